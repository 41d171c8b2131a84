#!/usr/bin/env bash
# A tour of queuectl on the embedded SQLite store: a few jobs, one failing into the DLQ,
# two detached workers, then what status, list, show, logs and the DLQ say about it.
set -euo pipefail

# A fresh store for the demo, unless QUEUECTL_HOME says where to keep one.
export QUEUECTL_HOME="${QUEUECTL_HOME:-$(mktemp -d -t queuectl-demo.XXXXXX)}"
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

echo "store: $QUEUECTL_HOME/queuectl.db"
step queuectl enqueue '{"id":"hello","command":"echo hello from queuectl"}'
step queuectl enqueue -c 'sleep 1; echo built' --id build --priority 5
step queuectl enqueue -c 'for i in 1 2 3; do echo "step $i"; sleep 0.3; done' --id steps
step queuectl enqueue -c 'echo "cannot reach the server" >&2; exit 3' --id flaky --max-retries 2
step queuectl enqueue -c 'echo "ran two seconds later"' --id later --delay 2s
step queuectl status
step queuectl worker start --count 2 --detach
step queuectl wait hello build steps later
echo "(flaky fails, retries after 2 s and 4 s, then goes to the dead-letter queue)"
step queuectl wait flaky --timeout 30 || true
step queuectl status
step queuectl list
step queuectl show flaky
step queuectl logs steps
step queuectl dlq list
step queuectl worker stop
