"""The events every benchmark sends: the soak's 163-byte events (an item's compact JSON), the
same in bench/ingest, bench/drain, bench/storage and the raw-insert rows they compare with."""

import json
import time

from app.store.common import uuid7

EVENT_BYTES = 163


def soak_item(i):
    """Event number `i`: an interview_completed item whose compact JSON is 163 bytes."""
    return {"itemType": "event", "eventId": uuid7(), "eventType": "interview_completed",
            "eventData": {"score": 50 + i % 50, "duration": 1000 + i % 9000,
                          "interviewId": f"{i % 100:02d}"}}


def compact(value):
    return json.dumps(value, separators=(",", ":"))


def soak_batch(n, user, start=0):
    """A native batch of `n` soak events from `user` (a dict; `sentAt` now)."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return {"batchId": uuid7(), "userId": user, "sentAt": now,
            "items": [soak_item(start + i) for i in range(n)]}


assert len(compact(soak_item(0))) == EVENT_BYTES
