"""What makes this host's process ids and boot-time clock comparable with another process's.

Two processes can compare pids only if they share a boot and a PID namespace (containers
with ``--network host`` share a host name but not their pids), and can compare readings of
``CLOCK_BOOTTIME`` only if they share a boot. Both are read once per process."""

from __future__ import annotations

import functools
import os


@functools.cache
def boot_id() -> str:
    """The kernel's id of this boot (a UUID string); "" where the system does not say."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as f:
            return f.read().strip()
    except OSError:
        return ""


@functools.cache
def pid_namespace() -> str:
    """This process's PID namespace as the kernel names it (``pid:[4026531836]``); "" where
    the system does not say."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


def pid_scope() -> str:
    """Where this process's pids mean something: ``"BOOT_ID/PID_NAMESPACE"``. Two processes
    can judge each other's pids only if their scopes are equal and not ""; "" where the
    system does not say either."""
    boot, namespace = boot_id(), pid_namespace()
    return f"{boot}/{namespace}" if boot and namespace else ""
