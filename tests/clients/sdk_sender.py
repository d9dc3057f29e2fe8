"""Runs TelemetryClient in a process of its own, for the crash, fork and exit tests.

usage: sdk_sender.py MODE ENDPOINT API_KEY QUEUE_PATH COUNT USER_ID
MODE: capture (capture COUNT events, say so on stdout, then flush), resume (flush only),
      fork (capture, fork, the child captures and flushes too), exit (capture, exit at once).
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
    client = TelemetryClient(
        endpoint,
        api_key,
        user_id=user_id,
        queue_path=queue_path,
        batch_size=50,
        flush_interval=0.2,
    )
    if mode == "resume":
        return 0 if client.flush(FLUSH_TIMEOUT) else 3
    if mode == "exit":
        for i in range(count):
            client.capture_event("sdk_python_test", {"i": i})
        say("captured")
        return 0  # no flush: the client sends at interpreter exit
    if mode == "fork":
        for i in range(count):
            client.capture_event("sdk_python_parent", {"i": i})
        pid = os.fork()
        if pid == 0:
            for i in range(count):
                client.capture_event("sdk_python_child", {"i": i}, user_id=f"{user_id}-child")
            code = 0 if client.flush(FLUSH_TIMEOUT) else 3
            client.shutdown(timeout=5)
            logging.shutdown()
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        parent_ok = client.flush(FLUSH_TIMEOUT)
        say(f"child {os.waitstatus_to_exitcode(status)}")
        return 0 if parent_ok and os.waitstatus_to_exitcode(status) == 0 else 4
    for i in range(count):
        client.capture_event("sdk_python_test", {"i": i})
    say("captured")
    return 0 if client.flush(FLUSH_TIMEOUT) else 3


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
