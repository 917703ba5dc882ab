"""The web floor: everything that answers HTTP (webhooks, inbox, API, public pages, Open311, media)."""
