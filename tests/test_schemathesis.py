"""schemathesis against the live app and its /api/openapi.json, with every phase (examples,
coverage, fuzzing, stateful) and every check, on each store: zero failures.

It makes valid and invalid requests from the document and follows its links (batch → batch log,
conflicts → conflict → resolve, records → record, sync → run), so a request the document allows
but the service refuses (positive_data_acceptance), or one it forbids but the service takes
(negative_data_rejection), fails the test, and so do a 5xx, an answer that breaks the document
(status, content type, headers, body) and a keyed call answering without its key.

Every check is on. Two are configured rather than switched off:
- negative_data_rejection also expects 413: a batch over MAX_BATCH_ITEMS (the document's
  `maxItems`) answers 413 `too_many_items`, as SPEC.md §4 says, not 400.
- positive_data_acceptance also expects 400 from the events reads: a cursor they did not make
  (opaque, so any string fits the document) and `from` after `to` are refused, as SPEC.md §12
  and the brief say; tests/api/test_events_api.py holds both refusals.
max_response_time has no limit set, so it checks nothing: time is not what this test measures.

Run time: about 50 s on SQLite and 60 s on the Mongo adapter (2 cores), with MAX_EXAMPLES
examples an operation and STATEFUL_STEPS steps a stateful scenario; `-s` prints it, with the
links the stateful phase followed. schemathesis starts stateful scenarios only from operations
whose inputs it believes it can fill: it reads the client-made userId, clientId and eventId of
a batch as references to resources no operation makes, so it does not start from POST /batch
and the batch → batch log link, though documented, is not followed here (the other phases send
batches, and tests/api/test_answers_match_document.py reads batch logs).

tests/api/test_answers_match_document.py checks chosen real answers (every error status
included) against the same document.
"""

import logging
import time

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import Status, events, from_schema

from app.sync.runs import lease_holder
from tests.waiting import wait_for

pytestmark = pytest.mark.slow

MAX_EXAMPLES = 25
STATEFUL_STEPS = 25
PHASES = {"examples", "coverage", "fuzzing", "stateful"}
# What negative_data_rejection accepts as a refusal: schemathesis's default list and 413.
REFUSALS = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429",
            "5xx"]
# What positive_data_acceptance accepts on the events reads: schemathesis's default list and 400.
ACCEPTED_OR_400 = ["2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"]


def config(auth, seed):
    return SchemathesisConfig.from_dict({
        "seed": seed,
        "cache": {"enabled": False},
        "headers": auth,
        "checks": {"enabled": True,
                   "negative_data_rejection": {"expected-statuses": REFUSALS}},
        "generation": {"max-examples": MAX_EXAMPLES, "mode": "all", "database": "none"},
        "phases": {"enabled": True, "stateful": {"max-steps": STATEFUL_STEPS}},
        "continue-on-failure": True,
        "operations": [{
            # The events reads refuse, with 400, what the document cannot state: a cursor
            # they did not make (it is opaque: any string fits its schema) and `from` after
            # `to` (a rule between two fields).
            "include-path-regex": "^/api/telemetry/events",
            "checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED_OR_400}},
        }],
    })


def run(schema):
    """Run every phase; (failures as text, errors, the phases that ran, the document's links
    the stateful phase followed with data from an answer)."""
    failures, errors, ran, followed = [], [], set(), set()
    for event in from_schema(schema).execute():
        if isinstance(event, events.PhaseFinished) and event.status != Status.SKIP:
            ran.add(str(event.phase.name))
        elif isinstance(event, events.ScenarioFinished):
            for node in event.recorder.cases.values():
                transition = node.transition
                if transition is not None and not transition.is_inferred \
                        and node.is_transition_applied:
                    followed.add(transition.id.split(" -> ")[1].split()[-1])
            for case_checks in event.recorder.checks.values():
                for check in case_checks:
                    if check.failure_info is not None:
                        failure = check.failure_info.failure
                        failures.append(f"{event.phase} {event.label} {check.name}: "
                                        f"{failure.title}\n{failure.message}\n"
                                        f"{check.failure_info.code_sample}")
        elif isinstance(event, events.NonFatalError | events.FatalError):
            errors.append(f"{event.info.title}: {event.info.message}")
    return failures, errors, ran, followed


def test_the_api_conforms_to_its_document(app, live_server, auth, store):
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    schema = schemathesis.openapi.from_url(f"{live_server.url}/api/openapi.json",
                                           config=config(auth, seed=15))
    started = time.monotonic()
    failures, errors, ran, followed = run(schema)
    elapsed = time.monotonic() - started
    # Let the sync runs it started finish before the store is emptied.
    assert wait_for(lambda: lease_holder(store) is None, seconds=30)
    assert errors == [], "\n\n".join(errors)
    assert failures == [], "\n\n".join(failures)
    assert ran >= PHASES, ran
    # Every run starts syncs, so the stateful phase always has a run to follow by its link.
    assert "SyncRun" in followed, followed
    print(f"schemathesis: {elapsed:.1f} s, links followed: {sorted(followed)}")
