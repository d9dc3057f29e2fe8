"""gunicorn's settings for production, read by `gunicorn -c gunicorn.conf.py wsgi:app` (and by a
plain `gunicorn wsgi:app` started in this folder).

Threaded workers (gthread): a worker's main thread tells the arbiter it is alive while its
threads serve requests, so an export streaming a million events for minutes is not killed at
the worker timeout, and a slow download holds one thread, not a whole worker. The timeout then
catches what it is for: a worker whose process has stopped answering.
"""

worker_class = "gthread"
threads = 4
timeout = 60
