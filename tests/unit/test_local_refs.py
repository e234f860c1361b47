"""An executor's ref counts before and while its client is made (raylite/worker/local_refs.py)."""

from __future__ import annotations

from collections import Counter

from raylite.worker.local_refs import LocalRefs


class FakeClient:
    def __init__(self, adopted: dict[bytes, int]) -> None:
        self.counts = Counter(adopted)

    def add_ref(self, oid: bytes) -> None:
        self.counts[oid] += 1

    def remove_ref(self, oid: bytes) -> None:
        self.counts[oid] -= 1


def test_refs_counted_while_the_client_is_made_reach_it() -> None:
    refs = LocalRefs()
    refs.add_ref(b"a")
    refs.add_ref(b"a")
    refs.add_ref(b"b")
    client = FakeClient(refs.take())  # the client adopts these while it connects...
    refs.add_ref(b"c")  # ...and another thread counts more meanwhile
    refs.remove_ref(b"a")
    refs.hand_over(client)
    assert +client.counts == Counter({b"a": 1, b"b": 1, b"c": 1})
    refs.add_ref(b"d")  # later changes go straight to the client
    refs.remove_ref(b"b")
    assert +client.counts == Counter({b"a": 1, b"c": 1, b"d": 1})
    assert refs.counts == {}


def test_without_a_client_a_released_ref_is_forgotten() -> None:
    refs = LocalRefs()
    refs.add_ref(b"a")
    refs.remove_ref(b"a")
    assert refs.counts == {}
