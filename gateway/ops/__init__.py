"""Running the service: logs, metrics, startup checks, gunicorn hooks, outage notices."""
