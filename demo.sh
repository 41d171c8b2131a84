#!/usr/bin/env bash
# A tour of queuectl on the embedded SQLite store: a few jobs, one failing into the DLQ,
# two detached workers, then what status, list, show, logs and the DLQ say about it.
set -euo pipefail

# A fresh store for the demo, removed at the end (workers stopped first), unless
# QUEUECTL_HOME says where to keep one.
if [ -z "${QUEUECTL_HOME:-}" ]; then
  QUEUECTL_HOME="$(mktemp -d -t queuectl-demo.XXXXXX)"
  cleanup() {
    queuectl worker stop --timeout 30 >/dev/null 2>&1 || true
    rm -rf "$QUEUECTL_HOME"
  }
  trap cleanup EXIT
fi
export QUEUECTL_HOME
unset QUEUECTL_DB  # the demo's own store, never one named elsewhere

# Each command is shown as it can be pasted into a shell: a word with anything but safe
# characters in single quotes (a quote inside as '\''), as shlex.quote does.
quote() {
  local sq="'\\''"
  if [[ "$1" =~ ^[A-Za-z0-9_@%+=:,./-]+$ ]]; then printf '%s' "$1"
  else printf "'%s'" "${1//\'/$sq}"; fi
}
if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
step() {
  local shown="" word
  for word in "$@"; do shown+="${shown:+ }$(quote "$word")"; done
  printf '\n%s$ %s%s\n' "$bold" "$shown" "$plain"
  "$@"
}

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
