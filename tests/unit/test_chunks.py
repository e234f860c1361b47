"""Objects arriving in chunks: the chunks must add up to the object, in order."""

from __future__ import annotations

from pathlib import Path

import pytest

from raylite import store

OID = b"o" * 20


def test_chunks_in_order_make_the_object(tmp_path: Path) -> None:
    writer = store.ChunkWriter(str(tmp_path), OID, 6)
    writer.write(0, b"abc")
    writer.write(3, b"def")
    writer.commit()
    assert Path(store.object_path(str(tmp_path), OID)).read_bytes() == b"abcdef"
    assert store.size_of(str(tmp_path), OID) == 6


@pytest.mark.parametrize(
    "chunks, why",
    [
        ([(0, b"abc"), (4, b"ef")], "at offset 4 arrived where offset 3 was expected"),
        ([(2**62, b"x")], "where offset 0 was expected"),
        ([(0, b"abcdefg")], "ends at byte 7, past the object's size of 6 bytes"),
        ([(0, b"abc")], "ended after 3 of its 6 bytes"),
    ],
    ids=["gap", "far offset", "too long", "too short"],
)
def test_chunks_that_do_not_add_up_are_refused(tmp_path: Path, chunks, why: str) -> None:
    writer = store.ChunkWriter(str(tmp_path), OID, 6)
    with pytest.raises(store.BadChunk, match=why):
        for offset, data in chunks:
            writer.write(offset, data)
        writer.commit()
    writer.abort()
    assert list(tmp_path.iterdir()) == []
