"""Where each object lives inside the node's arena: a first-fit allocator with coalescing.

Theory of operation
-------------------
The node's store is one shared-memory file (the arena, raylite/worker/arena.py)
of `capacity` bytes. This module hands out ranges of it and takes them back;
it never touches the file.

- Ranges are aligned to ALIGN (64) bytes, so the out-of-band buffers of a
  serialized value (themselves 64-byte aligned inside it) are aligned in
  memory and numpy views of them are aligned as numpy wants.
- Free space is a list of (offset, length) holes sorted by offset. `alloc`
  takes the lowest hole that fits (first fit), which keeps the used part of
  the arena low: the shell pre-faults the file only up to `high_water`
  (rounded up to its growth step), so a node that never holds much never
  touches much memory.
- `free` puts a range back and merges it with the holes on either side, so
  two neighbouring free ranges are always one hole (validate checks it).
- A range belongs to one object id while allocated. Ranges freed while a
  reader still maps them are not freed here: the shell defers the `free`
  until the readers let go (see raylite/worker/arena.py).

`fragmentation()` is 1 - (largest hole / free bytes): 0 when all free space
is one hole, near 1 when it is scattered in small pieces.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

ALIGN = 64


def aligned(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


@dataclass(slots=True, frozen=True)
class Range:
    offset: int
    length: int  # aligned length actually held, >= the object's size


class ArenaAllocator:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity // ALIGN * ALIGN
        self.holes: list[tuple[int, int]] = [(0, self.capacity)] if self.capacity else []
        self.ranges: dict[bytes, Range] = {}
        self.allocated = 0  # bytes held by ranges

    def alloc(self, object_id: bytes, size: int) -> Range | None:
        """A range of at least size bytes for object_id, or None if no hole fits.

        An object that already holds a range keeps it (if it is large enough).
        """
        held = self.ranges.get(object_id)
        if held is not None and held.length >= size:
            return held
        if held is not None:
            self.free(object_id)
        length = max(ALIGN, aligned(size))
        for i, (offset, hole) in enumerate(self.holes):
            if hole < length:
                continue
            if hole == length:
                del self.holes[i]
            else:
                self.holes[i] = (offset + length, hole - length)
            got = Range(offset, length)
            self.ranges[object_id] = got
            self.allocated += length
            return got
        return None

    def free(self, object_id: bytes) -> Range | None:
        """Gives object_id's range back, merged with free neighbours; returns it (None if it held none)."""
        got = self.ranges.pop(object_id, None)
        if got is None:
            return None
        self.allocated -= got.length
        offset, length = got.offset, got.length
        i = bisect.bisect_left(self.holes, (offset, 0))
        if i < len(self.holes) and self.holes[i][0] == offset + length:  # merge with the hole after
            length += self.holes[i][1]
            del self.holes[i]
        if i > 0 and self.holes[i - 1][0] + self.holes[i - 1][1] == offset:  # and with the one before
            offset, length = self.holes[i - 1][0], self.holes[i - 1][1] + length
            del self.holes[i - 1]
            i -= 1
        self.holes.insert(i, (offset, length))
        return got

    def high_water(self) -> int:
        """The end of the highest allocated range (0 when nothing is allocated)."""
        if not self.ranges:
            return 0
        if self.holes and self.holes[-1][0] + self.holes[-1][1] == self.capacity:
            return self.holes[-1][0]
        return self.capacity

    def free_bytes(self) -> int:
        return self.capacity - self.allocated

    def fragmentation(self) -> float:
        free = self.free_bytes()
        if free == 0:
            return 0.0
        return 1.0 - max(length for _, length in self.holes) / free

    def validate(self) -> None:
        spans = sorted(
            [(r.offset, r.length, True) for r in self.ranges.values()] + [(o, n, False) for o, n in self.holes]
        )
        end = 0
        for offset, length, _ in spans:
            assert offset == end, f"gap or overlap at byte {end} (next span starts at {offset})"
            assert offset % ALIGN == 0 and length % ALIGN == 0 and length > 0, (offset, length)
            end = offset + length
        assert end == self.capacity, f"spans end at {end}, capacity {self.capacity}"
        assert self.holes == sorted(self.holes), "holes out of order"
        for (a, n), (b, _) in zip(self.holes, self.holes[1:], strict=False):
            assert a + n < b, f"holes at {a} and {b} touch: they should have been merged"
        assert self.allocated == sum(r.length for r in self.ranges.values())
