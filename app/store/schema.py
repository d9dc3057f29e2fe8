"""Versioned stores: the upgrade steps, and the rules for opening a store of any version.

A store records the schema version it is at: the last upgrade step applied to it, with the
release that applied it. Each step is a small function per adapter (sqlite/upgrades.py and
mongo/upgrades.py), named here. A new store is made by taking every step in order, so a new store
and an upgraded one are built by the same code. Version 0 is a store made by a release from before
versions were recorded; step 1 brings it to what those releases left, as opening it always did.

Change the schema only by adding a step: a store already at a version never runs that step's
function again, so editing a step that has shipped changes nothing for those stores.
"""

import logging

from ..version import __version__
from .common import utcnow
from .errors import StoreError

# Version → what its step does, one line. Every adapter implements every step.
STEPS = {
    1: "Tables and indexes of the releases before versioned stores",
    2: "Drop the indexes that later ones replaced (MongoDB; SQLite's were dropped by step 1)",
    3: "People profiles, the identity map and groups; telemetry's anonymousId and its index",
    4: "Queue items' source protocol; batch logs with refused items indexed by source",
    5: "A person's rows: userId on conflicts and record versions (filled in), indexes by person; "
       "suppressions, tombstones and deletions",
    6: "The event explorer's indexes and events counted per app, hour and type",
    7: "Batch logs' per-item results stored compressed (SQLite)",
}
LATEST = max(STEPS)

log = logging.getLogger("prepmate.store")


class SchemaMismatch(StoreError):
    """The store's schema version is not the one this release runs on."""

    def __init__(self, message, version, latest=LATEST):
        super().__init__(message)
        self.version = version
        self.latest = latest


class StoreTooNew(SchemaMismatch):
    """The store was upgraded by a newer release: this one cannot know what it holds."""


class UpgradeNeeded(SchemaMismatch):
    """The store is at an earlier version and STORE_AUTO_UPGRADE is off."""


def describe(version):
    """A version as people read it."""
    if version is None:
        return "a new, empty store"
    if version == 0:
        return "schema version 0 (made by a release from before versioned stores)"
    return f"schema version {version}"


def state(store):
    """Where the store stands: its version, the latest this release knows, the steps it still
    needs and those applied to it."""
    version = store.schema_version()
    return {
        "version": version,
        "latest": LATEST,
        "release": __version__,
        "pending": [{"version": v, "name": STEPS[v]} for v in range((version or 0) + 1,
                                                                    LATEST + 1)],
        "history": store.schema_history() if version else [],
    }


def refuse_newer(store, version):
    """Raise StoreTooNew when the store is past every version this release knows."""
    if version is None or version <= LATEST:
        return
    newest = (store.schema_history() or [{}])[-1]
    by = f", written by release {newest['release']}" if newest.get("release") else ""
    raise StoreTooNew(
        f"The store is at schema version {version}{by}; release {__version__} knows versions "
        f"up to {LATEST} and cannot open it. Run a release that knows version {version} (an "
        "earlier release cannot know what a later one stores).", version)


def upgrade(store, release=__version__):
    """Take every step the store still needs, in order; returns the steps this call took.

    Safe with several processes at once: a step another process took first is skipped."""
    version = store.schema_version()
    refuse_newer(store, version)
    done = []
    for step in range((version or 0) + 1, LATEST + 1):
        if store.upgrade_step(step, STEPS[step], release, utcnow()):
            if version is not None:
                log.info("store upgraded to schema version %d: %s", step, STEPS[step])
            done.append({"version": step, "name": STEPS[step]})
    if version is None and done:
        log.info("made a new store at schema version %d", LATEST)
    return done


def open_store(store, *, auto_upgrade=True, release=__version__):
    """Make the store ready for this release; returns the upgrade steps taken.

    A new store is made at the latest version whatever `auto_upgrade` says; a store at an
    earlier version is upgraded only with `auto_upgrade`, else UpgradeNeeded; a store at a later
    version is refused (StoreTooNew). A store at the latest version is only read."""
    version = store.schema_version()
    refuse_newer(store, version)
    done = []
    if version != LATEST:
        if version is not None and not auto_upgrade:
            raise UpgradeNeeded(
                f"The store is at {describe(version)}; release {release} runs on version "
                f"{LATEST}. Back it up, then run `flask --app wsgi store upgrade` (or start "
                "with STORE_AUTO_UPGRADE=true).", version)
        done = upgrade(store, release)
    store.apply_settings()
    return done
