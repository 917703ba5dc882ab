"""WhatsApp Cloud API (Meta) channel: see adapter.py."""

from adapters.whatsapp.adapter import STATUS_TABLE, WhatsAppCloudAdapter
from adapters.whatsapp.errors import ERROR_TABLE

__all__ = ["ERROR_TABLE", "STATUS_TABLE", "WhatsAppCloudAdapter"]
