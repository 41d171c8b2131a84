"""The application layer: what queuectl does, whichever front end asks.

The CLI (cli/), the dashboard and its JSON API (web/), the Python API (``Queue`` in api.py)
and `queuectl run` all call these modules, and none of them reaches the store any other
way: a job field, a read or an action is written here once and each front end only parses
its own input and prints its own output.

- store.py: the store's types the front ends name, and opening a store (lazily);
- enqueue.py: checking and inserting jobs, and naming the entry a refusal belongs to;
- documents.py: the shared reads and their JSON documents (`show`, `logs`, `list`, ...);
- control.py: the actions (cancel, dead-letter retry, purge, queue settings and schedules).

Nothing here imports click, rich, starlette or threading: the CLI's fast path
(cli/fastpath.py) runs through it.
"""
