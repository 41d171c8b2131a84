"""queuectl's benchmark suite: every figure is measured beside its baseline in the same run.

Run ``python -m bench`` (``--quick`` for a smoke run); see bench/README.md.
"""
