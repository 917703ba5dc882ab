"""WSGI entry point for gunicorn (`gunicorn gateway.wsgi:app`)."""

from gateway.app import create_app

app = create_app()
# Providers wait for the webhooks' answers; jobs can wait for the database a little longer.
app.extensions["lapor"].db.prefer_writes()
