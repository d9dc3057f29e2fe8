"""Ingest: validate what apps send, correct its clock, and hand it to the store exactly once."""
