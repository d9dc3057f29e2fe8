"""The operator console: an HTMX blueprint at /console, with log-in, roles and strict headers."""

from . import actions, conflicts, explorer, keys, pages, people  # noqa: F401  (their routes attach to the blueprint)
from .web import bp

__all__ = ["bp"]
