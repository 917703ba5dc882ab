"""WSGI entry point for gunicorn (`gunicorn gateway.wsgi:app`)."""

from gateway.app import create_app

app = create_app()
# Providers wait for the webhooks' answers; jobs can wait for the database a little longer.
app.extensions["lapor"].db.prefer_writes()
# The webhooks answer once their rows are committed; their jobs reach Redis from a thread of
# this process a moment later (gateway.work.queue.BackgroundPusher).
if app.extensions["lapor"].queue is not None:
    app.extensions["lapor"].queue.push_in_background()
