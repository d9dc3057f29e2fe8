"""Fixtures of the hostile tests: the console's users and signed-in clients."""

from tests.console.conftest import console, users  # noqa: F401 (fixtures, used by name)
