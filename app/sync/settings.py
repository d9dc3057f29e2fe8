"""The sync engine's settings, read once per run, and the backoff between an item's attempts."""

import random
from dataclasses import dataclass
from datetime import timedelta

SEQ_HOLD_SECONDS = 60.0
SEQ_RETRY_SECONDS = 2.0


class PermanentError(Exception):
    """An item that can never apply, whatever is retried."""


@dataclass(frozen=True)
class SyncSettings:
    """The engine's settings, read once per run."""

    batch_size: int
    lease: timedelta
    max_retries: int
    backoff_base: float
    backoff_max: float
    budget: float
    seq_hold: timedelta
    settings: dict

    @classmethod
    def from_settings(cls, settings):
        return cls(
            batch_size=int(settings["SYNC_BATCH_SIZE"]),
            lease=timedelta(seconds=float(settings["SYNC_LEASE_SECONDS"])),
            max_retries=int(settings["SYNC_MAX_RETRIES"]),
            backoff_base=float(settings["SYNC_BACKOFF_BASE_SECONDS"]),
            backoff_max=float(settings["SYNC_BACKOFF_MAX_SECONDS"]),
            budget=float(settings["SYNC_RUN_BUDGET_SECONDS"]),
            seq_hold=timedelta(seconds=float(settings.get("SYNC_SEQ_HOLD_SECONDS",
                                                          SEQ_HOLD_SECONDS))),
            settings=settings,
        )


def backoff_delay(attempts, base, maximum, rand=random.random):
    """Seconds before retry number `attempts`: base·2^(attempts-1), capped, half of it jittered."""
    delay = min(maximum, base * 2 ** max(0, attempts - 1))
    return delay / 2 + rand() * delay / 2

