"""A person's data: access (export, timeline) and erasure, and the suppression that follows."""
