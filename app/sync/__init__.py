"""The sync engine: claims queue items, applies them, resolves conflicts, logs every batch."""
