"""Tools for one machine and for tests: loopback providers, the dev server, demo, simulate."""
