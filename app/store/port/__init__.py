"""The storage port: every operation the services ask of a store, as typing Protocols.

Each area declares its small operations in its own module of this package, and `Store` is the
union of them. Rules (what is a duplicate, when a backlog is full, which run failed) live in the
services above the port; adapters only translate operations to their driver.
"""
