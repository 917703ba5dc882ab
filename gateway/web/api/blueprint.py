"""The API blueprint object, apart so resource modules can import it without cycles."""

from flask import Blueprint

api_bp = Blueprint("api", __name__, url_prefix="/api/v1")
