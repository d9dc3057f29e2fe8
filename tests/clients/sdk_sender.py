"""Runs TelemetryClient in a process of its own, for the crash, fork and exit tests.

usage: sdk_sender.py MODE ENDPOINT API_KEY QUEUE_PATH COUNT USER_ID
MODE: capture (capture COUNT events, say so on stdout, then send them all), verbs (the same, with
      identify first, a page view every 10th event, a group every 25th and an alias last),
      resume (send what
      the queue holds), fork (capture, fork, the child captures and sends too), exit (capture,
      then leave without flushing: the client sends at interpreter exit).
"""

import logging
import os
import sys

from prepmate_telemetry import TelemetryClient

FLUSH_TIMEOUT = 90.0


def say(text):
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def main(mode, endpoint, api_key, queue_path, count, user_id):
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    count = int(count)

    def client(**options):
        return TelemetryClient(
            endpoint,
            api_key,
            user_id=user_id,
            queue_path=queue_path,
            batch_size=50,
            flush_interval=0.2,
            **options,
        )

    if mode == "resume":
        return 0 if client().flush(FLUSH_TIMEOUT) else 3
    if mode in ("capture", "verbs"):
        # Everything is on disk before the first request, so the kill lands mid-send.
        quiet = client(send=False)
        verbs = mode == "verbs"
        if verbs:
            quiet.identify(user_id, {"name": "Ada"})
        for i in range(count):
            quiet.capture_event("sdk_python_test", {"i": i})
            if verbs and i % 10 == 0:
                quiet.page(f"page-{i}")
            if verbs and i % 25 == 0:
                quiet.group(f"group-{i}", {"i": i})
        if verbs:
            quiet.alias(user_id, f"crm-{user_id}")
        quiet.shutdown()
        say("captured")
        return 0 if client().flush(FLUSH_TIMEOUT) else 3
    sender = client()
    if mode == "exit":
        for i in range(count):
            sender.capture_event("sdk_python_test", {"i": i})
        say("captured")
        return 0
    if mode == "fork":
        for i in range(count):
            sender.capture_event("sdk_python_parent", {"i": i})
        pid = os.fork()
        if pid == 0:
            for i in range(count):
                sender.capture_event("sdk_python_child", {"i": i}, user_id=f"{user_id}-child")
            code = 0 if sender.flush(FLUSH_TIMEOUT) else 3
            sender.shutdown(timeout=5)
            logging.shutdown()
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        parent_ok = sender.flush(FLUSH_TIMEOUT)
        say(f"child {os.waitstatus_to_exitcode(status)}")
        return 0 if parent_ok and os.waitstatus_to_exitcode(status) == 0 else 4
    raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
