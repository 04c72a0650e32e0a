"""Which layout a Redis prefix holds, so a new prefix gets the hash layout while the data
of an existing one is still read as it was written.

The key ``{prefix}!layout`` holds ``key`` or ``hash``. A timeseries of a type with a hash
encoding (counts, gauges) settles its layout at its first I/O, before it builds any key
(each storage call that builds keys is wrapped to do so, ``KEYED_CALLS``):

* the marker, when the prefix has one, is the layout (a ``layout`` option that says
  otherwise is refused with a ``ConfigError``);
* a prefix without a marker holding data written before markers existed keeps the
  layout of that data: the first key of the prefix a SCAN meets tells (a window hash,
  ``...:#{window}``, or a key per bucket); an option that says otherwise is refused too.
  The SCAN runs once per timeseries object, and only while the prefix is unmarked;
* otherwise the ``layout`` option, or ``DEFAULT`` for a new prefix.

A writer stores its choice with ``SET NX`` before its first batch, then reads the marker
back: of two processes choosing at once, both keep the one stored first. A reader never
writes the marker; until it has seen one it reads it again before each read (one GET),
so it follows a writer that marks the prefix later. The marker has no TTL and
``delete_all`` leaves it: a prefix keeps its layout once chosen, so no process holding it
can read the other one by mistake. Series, histograms and sets store alike in both
layouts: they neither read nor write the marker.
"""
from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Callable, Optional

from ..exceptions import BackendError, ConfigError
from .redis_layouts import LAYOUT_NAMES

if TYPE_CHECKING:  # pragma: no cover
    from .redis_store import RedisTimeseries

#: the layout of a new prefix when the ``layout`` option is not given
DEFAULT = "hash"
#: the marker key, after the prefix (as the name index's ``!names``)
MARKER = "!layout"
#: the storage calls of the Redis engine that build keys, and whether each writes: each
#: settles the layout first (``settle_before_keyed_calls``), so none can forget it
KEYED_CALLS = {"_write": True, "_start_write": True, "_fetch_many": False, "_fetch_flat": False,
               "_fetch_dense": False, "_properties": False, "list": False, "delete": False,
               "delete_all": False}


def settle_before_keyed_calls(cls: type) -> None:
    """Wrap each of ``KEYED_CALLS`` that ``cls`` defines itself so that it settles the layout
    of its timeseries first (once per method; as ``kairos.lifecycle`` guards storage calls)."""
    for name, writing in KEYED_CALLS.items():
        method = cls.__dict__.get(name)
        if callable(method) and not getattr(method, "settles_layout", False):
            setattr(cls, name, _settling(method, writing))


def _settling(method: Callable, writing: bool) -> Callable:
    @functools.wraps(method)
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not self.closed:  # closed: the call itself raises Closed, before any I/O
            self._layout_choice.settle(self, writing)
        return method(self, *args, **kwargs)
    call.settles_layout = True  # type: ignore[attr-defined]
    return call


class LayoutChoice:
    """The state of one timeseries' choice: settled, marked (by this process), scanned."""

    def __init__(self, given: Optional[str], hashable: bool):
        #: the ``layout`` option (None: the prefix's, ``DEFAULT`` for a new one)
        self.given = given
        #: the layout bound is the prefix's for good (a marker was seen or written)
        self.settled = not hashable
        #: this process stored or found the marker before writing
        self.marked = not hashable
        #: the layout of the unmarked data found by a SCAN ("" : none found), once scanned
        self.found: Optional[str] = None

    def initial(self) -> str:
        """The layout bound before the first I/O (reads of a prefix with no data find none
        in either layout)."""
        return self.given or DEFAULT

    def settle(self, store: "RedisTimeseries", writing: bool) -> None:
        """Bind ``store`` to the prefix's layout; a writer marks the prefix first."""
        if self.marked or (self.settled and not writing):
            return
        key = store.keys.prefix + MARKER
        stored = store._call("GET", key)
        if stored is None:
            found = self._found(store)
            layout = self.given or found or DEFAULT
            if found and found != layout:
                raise ConfigError("prefix %r on %s holds data in the %r layout (written before "
                                  "layout markers), not the %r the layout option asks for: leave "
                                  "the option out to read it as it is, or copy it to another "
                                  "prefix with migrate"
                                  % (store.keys.prefix, store.where, found, layout))
            if not writing:  # a reader follows the data (or the option) until marked
                store._bind_layout(layout)
                return
            store._call("SET", key, layout, "NX")
            stored = store._call("GET", key) or layout  # None: deleted meanwhile, ours holds
        stored = stored.decode("utf-8", "replace") if isinstance(stored, bytes) else str(stored)
        if stored not in LAYOUT_NAMES:
            raise BackendError("%s: key %s holds %r, not a kairos layout (%s)"
                               % (store.where, key, stored, ", ".join(LAYOUT_NAMES)))
        if self.given is not None and stored != self.given:
            raise ConfigError("prefix %r on %s holds the %r layout (key %s), not the %r the "
                              "layout option asks for: leave the option out to read it as it "
                              "is, or copy it to another prefix with migrate"
                              % (store.keys.prefix, store.where, stored, key, self.given))
        store._bind_layout(stored)
        self.settled = True
        self.marked = writing

    def forget(self) -> None:
        """Scan again before the next choice (after ``delete_all`` left the prefix empty)."""
        self.found = None

    def _found(self, store: "RedisTimeseries") -> str:
        """The layout of the data of the unmarked prefix ("": none), scanned once."""
        if self.found is None:
            self.found = store._stored_layout() or ""
        return self.found
