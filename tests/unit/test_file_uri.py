"""The read-only SQLite URI is built without pathlib: it must be pathlib's, byte for byte."""

from __future__ import annotations

import os
import pathlib
from typing import Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from queuectl.storage.sqlite_file import file_uri

SURROGATES: tuple[Literal["Cs"]] = ("Cs",)  # not text: no path can hold them

PATHS = ["q.db", "/tmp/a b/q#?%.db", "x/../ü é.db", "/a//b/./c.db", "./a/./b.db", "/x/y/",
         "~/not-home.db", "/tmp/semi;colon&amp=.db"]


@pytest.mark.parametrize("path", PATHS)
def test_file_uri_is_pathlibs(path: str) -> None:
    assert file_uri(path) == pathlib.Path(path).absolute().as_uri()


@given(st.lists(st.text(st.characters(blacklist_characters="/\0",
                                      blacklist_categories=SURROGATES), min_size=1, max_size=8),
                min_size=1, max_size=4))
def test_any_name_gives_pathlibs_uri(parts: list[str]) -> None:
    path = os.path.join("/", *parts)
    assert file_uri(path) == pathlib.Path(path).absolute().as_uri()
