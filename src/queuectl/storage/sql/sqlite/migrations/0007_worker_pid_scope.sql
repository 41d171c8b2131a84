-- A worker's pid means something only within its boot and its PID namespace: two pools on
-- one host name (containers sharing the host's network, `unshare --pid`), or a worker row
-- left by a previous boot, must never be judged by a pid of this one. pid_scope is
-- "BOOT_ID/PID_NAMESPACE" as the worker saw them; '' (a worker that could not say) is
-- judged by its silence alone.
ALTER TABLE workers ADD COLUMN pid_scope TEXT NOT NULL DEFAULT '';
