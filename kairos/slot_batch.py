"""A batch of bucket writes grouped by slot: ``{(interval, i_key, r_key): {name: data}}``.

Why: counts and gauges fold each value into its buckets on every write, the hottest loop
of karbon. Folding into one dict per slot, keyed by the name alone, costs one dict
operation per value and bucket; the flat form ``{(name, interval, i_key, r_key): data}``
costs a tuple, its hash and an unpacking per bucket, several times more. Engines that
write slot by slot (Redis) read ``SlotBatch.slots``; the others see the flat mapping
they always had (``SlotBatch`` is one), built as they iterate it.
"""
from __future__ import annotations

from bisect import bisect_right
from itertools import chain
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

Slot = Tuple[str, int, Optional[int]]
Bucket = Tuple[str, str, int, Optional[int]]
Slots = Dict[Slot, Dict[str, Any]]


class SlotBatch(Mapping):
    """The flat ``{(name, interval, i_key, r_key): data}`` view of ``slots``."""

    __slots__ = ("slots",)

    def __init__(self, slots: Slots):
        self.slots = slots

    def __len__(self) -> int:
        return sum(map(len, self.slots.values()))

    def __iter__(self) -> Iterator[Bucket]:
        for (interval, i_key, r_key), names in self.slots.items():
            for name in names:
                yield name, interval, i_key, r_key

    def __getitem__(self, bucket: Bucket) -> Any:
        try:
            name, interval, i_key, r_key = bucket
        except (TypeError, ValueError):  # not a bucket: not in the batch
            raise KeyError(bucket) from None
        return self.slots[interval, i_key, r_key][name]

    def items(self) -> Iterator[Tuple[Bucket, Any]]:  # type: ignore[override]
        for (interval, i_key, r_key), names in self.slots.items():
            for name, data in names.items():
                yield (name, interval, i_key, r_key), data

    def __repr__(self) -> str:
        return "SlotBatch(%r)" % (self.slots,)


def names_of(batch: Mapping[Bucket, Any]) -> Dict[str, None]:
    """The names ``batch`` writes, each once, in the order it holds them (a ``SlotBatch``'s
    at C speed, slot by slot)."""
    if type(batch) is SlotBatch:
        return dict.fromkeys(chain.from_iterable(batch.slots.values()))
    return dict.fromkeys(bucket[0] for bucket in batch)


def slots_of(batch: Mapping[Bucket, Any]) -> Slots:
    """``batch`` grouped by slot (a ``SlotBatch``'s own, or a flat mapping's, regrouped)."""
    if type(batch) is SlotBatch:
        return batch.slots
    out: Slots = {}
    for (name, interval, i_key, r_key), data in batch.items():
        names = out.get((interval, i_key, r_key))
        if names is None:
            names = out[interval, i_key, r_key] = {}
        names[name] = data
    return out


class WrittenBuckets(Sequence):
    """The bucket of each write of a batch written slot by slot, by position; built from
    the slots as they are written (``add``), each bucket only when asked for (a refusal)."""

    def __init__(self) -> None:
        self._starts: List[int] = []
        self._slots: List[Tuple[Slot, Dict[str, Any]]] = []
        self._names: Dict[int, List[str]] = {}  # segment -> its names, once looked up
        self._length = 0

    def add(self, slot: Slot, names: Dict[str, Any]) -> None:
        """The next ``len(names)`` writes are the buckets of ``names`` in ``slot``, in order."""
        self._starts.append(self._length)
        self._slots.append((slot, names))
        self._length += len(names)

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, position: Any) -> Any:
        if isinstance(position, slice):
            return [self[i] for i in range(*position.indices(self._length))]
        if position < 0:
            position += self._length
        if not 0 <= position < self._length:
            raise IndexError("write %d of %d" % (position, self._length))
        segment = bisect_right(self._starts, position) - 1
        names = self._names.get(segment)
        if names is None:
            names = self._names[segment] = list(self._slots[segment][1])
        interval, i_key, r_key = self._slots[segment][0]
        return names[position - self._starts[segment]], interval, i_key, r_key
