"""Which CIDR targets contain an address, in one binary search.

CIDR blocks never partially overlap: two blocks are either disjoint or one contains the other.
So the blocks can be flattened once into sorted, disjoint segments, each labelled with the chain
of blocks that cover it (most specific first). A lookup is one `bisect` over the segment starts:
O(log n) whatever the number of blocks and prefix lengths.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Generic, TypeVar

R = TypeVar("R")


class AddressRanges(Generic[R]):
    """Blocks [first, last] (integers) with their rules; `finish()` then `covering(address)`."""

    def __init__(self) -> None:
        self._blocks: dict[tuple[int, int], list[R]] = {}
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._chains: list[tuple[R, ...]] = []

    def add(self, first: int, last: int, rule: R) -> None:
        self._blocks.setdefault((first, last), []).append(rule)

    def __len__(self) -> int:
        return len(self._blocks)

    def finish(self) -> None:
        """Flatten the nested blocks into disjoint segments (a sweep with a stack)."""
        starts: list[int] = []
        ends: list[int] = []
        chains: list[tuple[R, ...]] = []

        def emit(first: int, last: int, chain: tuple[R, ...]) -> None:
            if first <= last:
                starts.append(first)
                ends.append(last)
                chains.append(chain)

        stack: list[tuple[int, tuple[R, ...]]] = []  # (last address, chain)
        position = 0  # first address not yet emitted
        for (first, last), rules in sorted(
            self._blocks.items(), key=lambda kv: (kv[0][0], -kv[0][1])
        ):
            while stack and stack[-1][0] < first:
                end, chain = stack.pop()
                emit(position, end, chain)
                position = end + 1
            if stack:
                emit(position, first - 1, stack[-1][1])
            position = first
            stack.append((last, (*rules, *(stack[-1][1] if stack else ()))))
        while stack:
            end, chain = stack.pop()
            emit(position, end, chain)
            position = end + 1
        self._starts, self._ends, self._chains = starts, ends, chains

    def covering(self, address: int) -> tuple[R, ...]:
        """The rules of every block containing `address`, most specific first (or ())."""
        index = bisect_right(self._starts, address) - 1
        if index >= 0 and address <= self._ends[index]:
            return self._chains[index]
        return ()
