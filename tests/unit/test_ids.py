"""Job ids drawn in bulk look like ids drawn one by one."""

from __future__ import annotations

from queuectl import ids


def test_bulk_ids_are_ten_base36_characters_and_unique() -> None:
    drawn = ids.new_job_ids(5000)
    assert len(drawn) == 5000 and len(set(drawn)) == 5000
    assert all(len(i) == 10 and set(i) <= set(ids._ALPHABET) for i in drawn)
    assert ids.new_job_ids(0) == []


def test_pairs_spell_the_same_digits_as_one_at_a_time() -> None:
    for n in (0, 1, 35, 36, 1295, 1296, 2**51, 2**64 - 1):
        rest, out = n, ""
        for _ in range(5):
            rest, pair = divmod(rest, 1296)
            out += ids._PAIRS[pair]
        assert out == ids._base36(n, 10)
