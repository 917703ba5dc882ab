"""Loopback stand-ins for the providers: real HTTP servers on 127.0.0.1.

Tests, the benchmark and `lapor-gateway run` (when no real provider is
configured) point the adapters' base URLs here, so that the real client libraries
make real HTTP calls and we can see exactly what a provider would have received.
"""
