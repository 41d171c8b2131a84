"""The dashboard: a Starlette app with server-rendered pages, a JSON API and /metrics.

Imported only by `queuectl dashboard` (and tests): nothing else pays for the web stack.
"""
