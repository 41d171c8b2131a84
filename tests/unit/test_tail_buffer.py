from hypothesis import given
from hypothesis import strategies as st

from queuectl.pool.runner import TailBuffer


@given(st.integers(1, 300), st.lists(st.binary(max_size=200), max_size=40))
def test_keeps_exactly_the_tail_and_counts_the_rest(limit: int, chunks: list[bytes]) -> None:
    tail = TailBuffer(limit)
    biggest = 0
    for chunk in chunks:
        tail.add(chunk)
        biggest = max(biggest, len(chunk))
        # memory: at most the limit plus one chunk (of the pipe's read size, in the runner)
        assert tail.total - tail.dropped <= limit + biggest
    everything = b"".join(chunks)
    data, dropped = tail.snapshot()
    assert data == everything[-limit:] if everything else data == b""
    assert dropped == len(everything) - len(data)
    assert tail.total == len(everything)
