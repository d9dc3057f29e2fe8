"""Serves the Swagger UI files of the swagger-ui-bundle package locally, for /api/docs."""

from flask import Blueprint, send_from_directory
from swagger_ui_bundle import swagger_ui_path

bp = Blueprint("api_docs_assets", __name__, url_prefix="/api/docs/assets")


@bp.get("/<path:filename>")
def asset(filename):
    """One Swagger UI file (script, style sheet)."""
    return send_from_directory(swagger_ui_path, filename, max_age=86400)
