"""A write sent ahead of its answer (``Timeseries.send_bulk``), waited for later."""
from __future__ import annotations

from typing import Any, Callable


def _never() -> bool:
    return False


class Pending:
    """Call it to wait for storage's answer: it returns, or raises what the write raised.

    ``lost`` tells, without waiting, whether the answer is already known to be lost (the
    connection failed: waiting raises at once and the batch may or may not be stored).
    A caller keeping its batches in order sends such a batch again before sending more.
    """

    __slots__ = ("_wait", "_lost")

    def __init__(self, wait: Callable[[], Any], lost: Callable[[], bool] = _never):
        self._wait = wait
        self._lost = lost

    def __call__(self) -> Any:
        return self._wait()

    @property
    def lost(self) -> bool:
        return self._lost()
