"""How each timeseries type keeps its bucket's ``value`` in a MongoDB document: one layout
class per type.

=========  ===============================  ==========================================
type       ``value``                        update merging a bucket write
=========  ===============================  ==========================================
count      a number                         ``$inc``
gauge      the last value                   ``$set``
series     an array in arrival order        ``$push`` with ``$each``
set        an array of distinct values      ``$addToSet`` with ``$each`` (sorted)
histogram  a sub-document ``{key: count}``  ``$inc`` on ``value.<escaped key>``
=========  ===============================  ==========================================

The document around ``value`` is the same for every type (``mongo_docs``);
``MongoTimeseries`` holds the layout of its type and never asks which type it is.
"""
from __future__ import annotations

from typing import Any, Dict

from ..exceptions import ConfigError
from ..values import value_order
from .mongo_docs import DEFAULT_ESCAPE, escape, key_text, unescape


class MongoLayout:
    """What every layout answers; the subclasses below are the types."""

    type_name = ""

    def __init__(self, character: str = DEFAULT_ESCAPE):
        #: the escape character of histogram keys (``escape_character``)
        self.character = character

    def update(self, data: Any) -> Dict[str, Any]:
        """The update operators merging one aggregated bucket write into its document."""
        raise NotImplementedError

    def decode(self, value: Any) -> Any:
        """A stored ``value`` as the read pipeline expects it."""
        return value


class CountLayout(MongoLayout):
    type_name = "count"

    def update(self, data: Any) -> Dict[str, Any]:
        return {"$inc": {"value": data}}


class GaugeLayout(MongoLayout):
    type_name = "gauge"

    def update(self, data: Any) -> Dict[str, Any]:
        return {"$set": {"value": data}}


class SeriesLayout(MongoLayout):
    type_name = "series"

    def update(self, data: Any) -> Dict[str, Any]:
        return {"$push": {"value": {"$each": list(data)}}}


class SetLayout(MongoLayout):
    type_name = "set"

    def update(self, data: Any) -> Dict[str, Any]:
        return {"$addToSet": {"value": {"$each": sorted(data, key=value_order)}}}


class HistogramLayout(MongoLayout):
    """Values are field names: their text, escaped (values with the same text are one key)."""

    type_name = "histogram"

    def update(self, data: Any) -> Dict[str, Any]:
        inc: Dict[str, int] = {}
        for value, count in data.items():
            path = "value." + escape(key_text(value), self.character)
            inc[path] = inc.get(path, 0) + count
        return {"$inc": dict(sorted(inc.items()))}

    def decode(self, value: Any) -> Any:
        if isinstance(value, dict):
            return {unescape(key, self.character): count for key, count in value.items()}
        return value


LAYOUTS: Dict[str, type] = {layout.type_name: layout for layout in (
    CountLayout, GaugeLayout, SeriesLayout, SetLayout, HistogramLayout)}


def layout_for(type_name: str, character: str = DEFAULT_ESCAPE) -> MongoLayout:
    """The layout of a timeseries type, histogram keys escaped with ``character``
    (ConfigError for a type MongoDB has none for)."""
    try:
        layout = LAYOUTS[type_name]
    except KeyError:
        raise ConfigError("no MongoDB layout for type %r" % (type_name,)) from None
    return layout(character)
