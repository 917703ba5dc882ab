"""Attachments: storing files by content, typing them by their bytes, signed links."""
