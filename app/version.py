"""The release this code is: recorded in the store with every upgrade step it applies, and shown
by `flask --app wsgi store status`. Kept equal to pyproject.toml's and CHANGELOG.md's newest."""

__version__ = "0.2.0"
