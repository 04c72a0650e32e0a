"""After ``Timeseries.close()``: every storage call of an engine raises ``Closed``.

The check is added to the engine classes as they are defined (``guard_storage_calls``,
run by ``Timeseries.__init_subclass__``) instead of being written in every engine
method: an engine cannot forget it, and a closed timeseries never reconnects quietly
(a disposed SQLAlchemy engine or a disconnected Redis pool would open new connections).
"""
from __future__ import annotations

import functools
from typing import Any, Callable

from .exceptions import Closed

#: the methods through which an engine touches its storage
STORAGE_CALLS = ("_write", "_prepare_write", "_write_rows", "_write_parts", "_start_write",
                 "_fetch", "_fetch_many", "_fetch_flat",
                 "_fetch_dense", "_properties", "ping", "list", "delete", "delete_all", "expire",
                 "expire_all", "drop", "_index_children",
                 "_index_find", "_index_tagged", "_index_entries", "_index_add", "_index_discard",
                 "_index_built", "_index_set_built")


def open_only(method: Callable) -> Callable:
    """``method``, raising Closed when its timeseries was closed."""
    @functools.wraps(method)
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        if self.closed:
            raise Closed("%r is closed: close() released its storage connections; build a "
                         "new Timeseries to use the storage again" % (self,))
        return method(self, *args, **kwargs)
    # a marker on the function object, which mypy types without attributes of its own
    call.checks_open = True  # type: ignore[attr-defined]
    return call


def guard_storage_calls(cls: type) -> None:
    """Wrap each storage call ``cls`` defines itself with ``open_only`` (once)."""
    for name in STORAGE_CALLS:
        method = cls.__dict__.get(name)
        if callable(method) and not getattr(method, "checks_open", False):
            setattr(cls, name, open_only(method))
