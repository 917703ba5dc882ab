"""The public transparency pages: /, /statistik and /lacak/<tracking>. No login, no personal data."""

from gateway.web.public.views import public_bp

__all__ = ["public_bp"]
