"""Job handlers: the inbound turn, timeouts, sends, media fetches.

Every job kind is listed in `gateway.work.kinds`; importing this package registers nothing.
"""
