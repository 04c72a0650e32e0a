"""What the MongoDB engine sends, built by pure functions (no driver, no I/O).

Layout: one collection per timeseries type (``kairos_<type>`` unless
``collection_name`` is given), one document per bucket::

    {name, interval, i_time, r_time (None without resolution), value, [expire_at]}

with a unique index on ``(name, interval, i_time, r_time)`` so upserts find
their document, and, when any interval sets ``steps``, a TTL index on
``expire_at`` (``expireAfterSeconds=0``: each document carries its own expiry).

``value`` and the update that merges a write into it are the type's layout
(``mongo_layouts``). Histogram keys are strings (BSON field names): '.' and '$'
cannot appear in a field path, so they are escaped (see ``escape``).
"""
from __future__ import annotations

import datetime as _dt
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple
from urllib.parse import unquote

from ..exceptions import ConfigError, InvalidValue
from ..intervals import Interval
from ..values import bucket_order

DEFAULT_ESCAPE = "\uffff"
DEFAULT_DATABASE = "kairos"
BUCKET_INDEX = "kairos_bucket"
EXPIRE_INDEX = "kairos_expire"
BUCKET_FIELDS = ("name", "interval", "i_time", "r_time")
#: what the native read asks for (the custom fetch gets the same spec and sort)
READ_PROJECTION = {"_id": 0, "i_time": 1, "r_time": 1, "value": 1}
READ_SORT = [("i_time", 1), ("r_time", 1)]

Bucket = Tuple[str, str, int, Optional[int]]


# -- configuration --------------------------------------------------------
def database_from_url(url: str) -> Optional[str]:
    """The database named in a mongodb:// URL path, or None (``mongodb://h/db?x=1`` -> ``db``)."""
    rest = url.split("://", 1)[1] if "://" in url else url
    _hosts, slash, path = rest.partition("/")
    if not slash:
        return None
    name = unquote(path.split("?", 1)[0])
    return name or None


def database_name(url: Optional[str], client_config: Dict[str, Any]) -> str:
    """client_config['database'] wins over the URL's database, which wins over 'kairos'."""
    chosen = client_config.get("database") or (database_from_url(url) if url else None)
    return chosen or DEFAULT_DATABASE


def check_escape(character: Any) -> str:
    """Validate the ``escape_character`` option: one character, not '.' nor '$'."""
    if not isinstance(character, str) or len(character) != 1 or character in ".$\x00":
        raise ConfigError("escape_character must be one character other than '.', '$' and NUL, "
                          "not %r" % (character,))
    return character


# -- histogram keys ---------------------------------------------------------
def key_text(value: Any) -> str:
    """A histogram value as the text of a field name (str as is, bytes as UTF-8, else str())."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        try:
            return bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidValue("histogram value %r is not UTF-8: MongoDB field names are text"
                               % (value,)) from None
    return str(value)


def escape(text: str, character: str = DEFAULT_ESCAPE) -> str:
    """Make ``text`` safe as a field-path component: '.' -> E, '$' -> E + '$'.

    Reversible for any text without E itself (a key holding E is refused), so
    ``unescape(escape(k)) == k``. Every '$' is escaped, not only a leading one,
    so the encoded form never holds a bare '$'.
    """
    if character in text:
        raise InvalidValue("histogram key %r contains the escape character %r; choose another "
                           "escape_character" % (text, character))
    if text == "":
        raise InvalidValue("a histogram key cannot be the empty string in MongoDB")
    return text.replace("$", character + "$").replace(".", character)


def unescape(text: str, character: str = DEFAULT_ESCAPE) -> str:
    """Undo ``escape``: E + '$' -> '$', any other E -> '.'."""
    if character not in text:
        return text
    out = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == character:
            if i + 1 < n and text[i + 1] == "$":
                out.append("$")
                i += 2
                continue
            out.append(".")
        else:
            out.append(ch)
        i += 1
    return "".join(out)


# -- writes -------------------------------------------------------------------
def expire_at(interval: Interval, i_key: int) -> Optional[_dt.datetime]:
    """The UTC datetime at which a bucket leaves retention (None: the interval keeps it forever)."""
    expires = interval.expires_at(i_key)
    if expires is None:
        return None
    return _dt.datetime.fromtimestamp(expires, tz=_dt.timezone.utc)


def bucket_filter(bucket: Bucket) -> Dict[str, Any]:
    """The equality filter of a bucket's document (also what an upsert copies into a new one)."""
    name, interval, i_key, r_key = bucket
    return {"name": name, "interval": interval, "i_time": i_key, "r_time": r_key}


def update_spec(layout: Any, data: Any, expires: Optional[_dt.datetime] = None) -> Dict[str, Any]:
    """The update document merging one aggregated bucket write into its document: the type
    ``layout``'s operators, and the bucket's expiry."""
    update = layout.update(data)
    if expires is not None:
        update.setdefault("$set", {})["expire_at"] = expires
    return update


def write_operations(layout: Any, batch: Mapping[Bucket, Any], intervals: Dict[str, Interval],
                     now: float) -> Tuple[List[Tuple[Dict[str, Any], Dict[str, Any]]], int]:
    """``(filter, update)`` pairs for one upsert per bucket, sorted by bucket; and how many
    buckets were skipped because their retention had already ended at ``now``."""
    operations = []
    skipped = 0
    for bucket, data in sorted(batch.items(), key=bucket_order):
        expires = expire_at(intervals[bucket[1]], bucket[2])
        if expires is not None and expires.timestamp() <= now:
            skipped += 1
            continue
        operations.append((bucket_filter(bucket), update_spec(layout, data, expires)))
    return operations, skipped


def index_specs(with_ttl: bool) -> List[Tuple[List[Tuple[str, int]], Dict[str, Any]]]:
    """``(keys, options)`` of every index the collection needs."""
    specs = [([(field, 1) for field in BUCKET_FIELDS], {"name": BUCKET_INDEX, "unique": True})]
    if with_ttl:
        specs.append(([("expire_at", 1)], {"name": EXPIRE_INDEX, "expireAfterSeconds": 0}))
    return specs


# -- reads ----------------------------------------------------------------------
def read_query(name: str, interval: Interval, first: int, last: int
               ) -> Tuple[Dict[str, Any], List[Tuple[str, int]], str]:
    """``(spec, sort, method)`` of a read: ``find_one`` for one bucket without resolution."""
    spec: Dict[str, Any] = {"name": name, "interval": interval.name}
    if first == last:
        spec["i_time"] = first
    else:
        spec["i_time"] = {"$gte": first, "$lte": last}
    method = "find_one" if first == last and not interval.has_resolution else "find"
    return spec, list(READ_SORT), method


def rows_from_result(layout: Any, method: str, result: Any, first: int
                     ) -> Dict[int, Dict[Optional[int], Any]]:
    """``{i_key: {r_key: raw}}`` from what ``find``/``find_one`` (or a custom fetch) returned,
    each ``value`` decoded by the type's ``layout``.

    A document without ``i_time`` belongs to the first bucket asked for, one without
    ``r_time`` to no resolution.
    """
    out: Dict[int, Dict[Optional[int], Any]] = {}
    if result is None:
        return out
    documents: Iterable[Any] = [result] if method == "find_one" else result
    for doc in documents:
        if doc is None or "value" not in doc:
            continue
        i_key = doc.get("i_time", first)
        r_key = doc.get("r_time")
        out.setdefault(i_key, {})[r_key] = layout.decode(doc["value"])
    return out


def properties_pipeline(name: str) -> List[Dict[str, Any]]:
    """Aggregation giving ``{_id: interval, first: min i_time, last: max i_time}`` per interval."""
    return [{"$match": {"name": name}},
            {"$group": {"_id": "$interval", "first": {"$min": "$i_time"},
                        "last": {"$max": "$i_time"}}},
            {"$sort": {"_id": 1}}]


def expire_filters(name: str, intervals: Iterable[Interval], now: float) -> List[Dict[str, Any]]:
    """One delete filter per interval with ``steps``: buckets older than the retention window."""
    filters = []
    for interval in intervals:
        oldest = interval.oldest_bucket(now)
        if oldest is not None:
            filters.append({"name": name, "interval": interval.name, "i_time": {"$lt": oldest}})
    return filters
