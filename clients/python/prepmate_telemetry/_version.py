"""The client's release, sent in every item's automatic context."""

VERSION = "0.4.0"
