"""The MongoDB storage engine (pymongo 4), a thin layer over ``mongo_docs``.

Every ``bulk_insert`` is one ``bulk_write`` of ``UpdateOne(upsert=True)``, one per
bucket document. Retention is a TTL index on ``expire_at`` when an interval sets
``steps`` (MongoDB's TTL monitor deletes expired documents once every 60 s).
pymongo is imported only when this engine is used; its sockets are plain Python
sockets, so they cooperate with gevent once ``gevent.monkey.patch_all()`` ran.

The name index (``kairos.names``) is a collection ``{collection}_names`` of documents
``{_id: "depth kind path", d: depth, p: path, k: kind}`` with an index on (d, p): a
node's children are one range of it (strings compare as bytes). A batch's new names
are upserted there before its data. Depth 0 holds tagged names; ``_id`` "!built" is
the marker.
"""
from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from .. import names as name_index
from ..exceptions import BackendError, ConfigError, InvalidValue
from ..intervals import Interval
from ..registry import redact_url as _hide_password
from ..timeseries import Timeseries
from . import mongo_docs as docs
from . import mongo_layouts

log = logging.getLogger(__name__)

#: index creation errors meaning "an equivalent index is already there"
_INDEX_EXISTS_CODES = (85, 86)


class MongoTimeseries(Timeseries):
    """A timeseries stored in one MongoDB collection per type (see ``mongo_docs``)."""

    engine = "mongo"
    native_expiry = True

    def _setup(self, client: Any, escape_character: str = docs.DEFAULT_ESCAPE,
               collection_name: Optional[str] = None, client_config: Optional[dict] = None,
               **unknown: Any) -> None:
        if unknown:
            raise ConfigError("unknown MongoDB option(s): %s (MongoDB takes escape_character, "
                              "collection_name, client_config)" % ", ".join(sorted(unknown)))
        self.escape_character = docs.check_escape(escape_character)
        self.layout = mongo_layouts.layout_for(self.type, self.escape_character)
        config = dict(client_config or {})
        self._owned_client: Any = None  # the MongoClient built from a URL (closed by _release)
        self.collection = self._collection(client, config, collection_name or "kairos_%s" % self.type)
        self.database = self.collection.database
        self.client = self.database.client
        self.names = self.database[self.collection.name + "_names"]
        self._names_indexed = False
        self._with_ttl = any(interval.steps for interval in self.intervals.values())
        self._indexed = False

    def _collection(self, client: Any, config: dict, collection_name: str) -> Any:
        """Resolve a URL, MongoClient, Database or Collection into the collection to use."""
        try:
            import pymongo
        except ImportError as err:
            raise ImportError("the MongoDB engine needs pymongo 4: pip install 'torus[mongo]'") from err
        from pymongo.collection import Collection
        from pymongo.database import Database

        if isinstance(client, str):
            name = docs.database_name(client, config)
            config.pop("database", None)
            try:
                self._owned_client = pymongo.MongoClient(client, **config)
            except (pymongo.errors.PyMongoError, TypeError, ValueError) as err:
                raise ConfigError("cannot build a MongoDB client for %s: %s"
                                  % (_hide_password(client), err)) from err
            return self._owned_client[name][collection_name]
        extra = set(config) - {"database"}
        if extra:
            raise ConfigError("client_config applies to URLs; with a client object only "
                              "'database' is used, not %s" % ", ".join(sorted(extra)))
        if isinstance(client, Collection):
            return client
        if isinstance(client, Database):
            database = client.client[config["database"]] if config.get("database") else client
            return database[collection_name]
        if isinstance(client, pymongo.MongoClient):
            if config.get("database"):
                return client[config["database"]][collection_name]
            return client.get_default_database(default=docs.DEFAULT_DATABASE)[collection_name]
        raise ConfigError("the MongoDB engine takes a mongodb:// URL, a MongoClient, a Database "
                          "or a Collection, not %r" % (client,))

    def __repr__(self) -> str:
        return "MongoTimeseries(%s.%s, type=%r)" % (self.database.name, self.collection.name, self.type)

    def _release(self) -> None:
        """Close the MongoClient this timeseries created from a URL (a passed-in client is left open)."""
        if self._owned_client is not None:
            self._owned_client.close()
            self._owned_client = None

    # -- plumbing -------------------------------------------------------------
    def _run(self, work: Callable[[], Any]) -> Any:
        """Run a driver call, turning pymongo/BSON errors into kairos errors."""
        from bson.errors import InvalidDocument
        from pymongo.errors import BulkWriteError, PyMongoError

        try:
            return work()
        except (InvalidDocument, OverflowError) as err:
            raise InvalidValue("MongoDB cannot store this value: %s" % err) from err
        except BulkWriteError as err:
            first = (err.details.get("writeErrors") or [{}])[0]
            raise BackendError("bulk write to %s failed: %s" % (
                self.collection.full_name, first.get("errmsg", err))) from err
        except PyMongoError as err:
            raise BackendError("%s on %s: %s" % (type(err).__name__, self.collection.full_name,
                                                  err)) from err

    def _ensure_indexes(self) -> None:
        """Create the bucket (and TTL) indexes once per timeseries object, before the first write."""
        if self._indexed:
            return
        from pymongo.errors import OperationFailure

        for keys, options in docs.index_specs(self._with_ttl):
            try:
                self._run(lambda: self.collection.create_index(keys, **options))
            except BackendError as err:
                cause = err.__cause__
                if isinstance(cause, OperationFailure) and cause.code in _INDEX_EXISTS_CODES:
                    log.warning("an index like %s already exists on %s with other options: %s",
                                options["name"], self.collection.full_name, cause)
                    continue
                raise
        self._indexed = True

    # -- writing ----------------------------------------------------------------
    def _check_value(self, value: Any) -> Any:
        """Refuse a value BSON cannot encode before anything is sent.

        pymongo would only find it while encoding the bulk write, possibly after an
        earlier message of the same batch was applied; checked here, a bad value
        costs only itself (torus stores the rest of its batch).
        """
        import bson
        try:
            bson.encode({"v": value})
        except (bson.errors.InvalidDocument, OverflowError, TypeError) as err:
            raise InvalidValue("MongoDB cannot store the value %r: %s" % (value, err)) from None
        return value

    def _write(self, batch: Mapping[Tuple, Any], batch_id: Optional[str] = None,
               now: Optional[float] = None, new_names: Any = (), **kwargs: Any) -> None:
        """One round trip; ``batch_id`` is not recorded here (no ``exactly_once``: a retry of a
        batch whose reply was lost may apply it twice)."""
        if kwargs:
            raise ConfigError("unknown MongoDB write option(s): %s" % ", ".join(sorted(kwargs)))
        from pymongo import UpdateOne

        operations, skipped = docs.write_operations(self.layout, batch, self.intervals,
                                                    self.clock() if now is None else now)
        if skipped:
            log.debug("%d bucket write(s) to %s skipped: past their retention",
                      skipped, self.collection.full_name)
        if not operations:
            return
        self._ensure_indexes()
        if new_names:
            self._index_add(name_index.entries_of(new_names))
        requests = [UpdateOne(spec, update, upsert=True) for spec, update in operations]
        self._run(lambda: self.collection.bulk_write(requests, ordered=False))

    # -- reading ----------------------------------------------------------------
    def _fetch(self, name: str, interval: Interval, first: int, last: int,
               fetch: Optional[Callable]) -> Dict[int, Dict[Optional[int], Any]]:
        spec, sort, method = docs.read_query(name, interval, first, last)
        if fetch is not None:
            result = self._run(lambda: fetch(self.collection, spec=spec, sort=sort, method=method))
        elif method == "find_one":
            result = self._run(lambda: self.collection.find_one(spec, docs.READ_PROJECTION))
        else:
            result = self._run(lambda: list(self.collection.find(spec, docs.READ_PROJECTION, sort=sort)))
        if method == "find" and result is not None and not isinstance(result, list):
            result = self._run(lambda: list(result))
        return docs.rows_from_result(self.layout, method, result, first)

    # -- meta data and deletion ---------------------------------------------------
    def ping(self) -> None:
        self._run(lambda: self.client.admin.command("ping"))

    def list(self) -> List[str]:
        return sorted(self._run(lambda: self.collection.distinct("name")))

    def _properties(self, name: str) -> Dict[str, Tuple[int, int]]:
        rows = self._run(lambda: list(self.collection.aggregate(docs.properties_pipeline(name))))
        return OrderedDict((row["_id"], (row["first"], row["last"])) for row in rows)

    def delete(self, name: str) -> None:
        """Delete the documents of ``name``, then its index entry and the branches above it
        left without children."""
        self._run(lambda: self.collection.delete_many({"name": name}))
        own, walk = name_index.removal(name)
        if own is not None:
            self._run(lambda: self.names.delete_many({"_id": _entry_id(own)}))
            for entry, depth, low, high in walk:
                child = {"d": depth, "p": {"$gte": low, "$lt": high}}
                if self._run(lambda: self.names.find_one(child, {"p": 1})) is not None:
                    break
                self._run(lambda: self.names.delete_many({"_id": _entry_id(entry)}))
        self._forget_names([name])

    def delete_all(self) -> None:
        """Delete every document and every index entry (the index stays built)."""
        self._run(lambda: self.collection.delete_many({}))
        self._run(lambda: self.names.delete_many({"d": {"$gte": 0}}))
        self._forget_names()

    # -- the name index -----------------------------------------------------------------
    def _index_add(self, entries: Any) -> None:
        from pymongo import UpdateOne
        if not self._names_indexed:
            self._run(lambda: self.names.create_index([("d", 1), ("p", 1)], name="depth_path"))
            self._names_indexed = True
        requests = [UpdateOne({"_id": _entry_id(e)}, {"$set": {"d": e[0], "p": e[1], "k": e[2]}},
                              upsert=True) for e in entries]
        if requests:
            self._run(lambda: self.names.bulk_write(requests, ordered=False))

    def _index_rows(self, spec: dict) -> List[Tuple[str, str]]:
        return [(doc["p"], doc["k"])
                for doc in self._run(lambda: list(self.names.find(spec, {"p": 1, "k": 1})))]

    def _index_children(self, depth: int, low: str, high: Optional[str]) -> List[Tuple[str, str]]:
        bounds = {"$gte": low} if high is None else {"$gte": low, "$lt": high}
        return self._index_rows({"d": depth, "p": bounds})

    def _index_find(self, keys: Any) -> List[Tuple[str, str]]:
        found = []
        for depth, path in keys:
            found.extend(self._index_rows({"d": depth, "p": path}))
        return found

    def _index_tagged(self) -> List[str]:
        return [path for path, _ in self._index_rows({"d": 0})]

    def _index_entries(self) -> List[name_index.Entry]:
        docs_ = self._run(lambda: list(self.names.find({"d": {"$gte": 0}},
                                                        {"d": 1, "p": 1, "k": 1})))
        return [(doc["d"], doc["p"], doc["k"]) for doc in docs_]

    def _index_discard(self, entries: Any) -> None:
        for entry in entries:
            self._run(lambda: self.names.delete_many({"_id": _entry_id(entry)}))

    def _index_built(self) -> bool:
        return self._run(lambda: self.names.find_one({"_id": _BUILT}, {"d": 1})) is not None

    def _index_set_built(self) -> None:
        from pymongo import UpdateOne
        self._run(lambda: self.names.bulk_write(
            [UpdateOne({"_id": _BUILT}, {"$set": {"d": -1, "p": "", "k": "M"}}, upsert=True)]))

    def expire(self, name: str, now: Optional[float] = None) -> None:
        """Delete the buckets of ``name`` older than each interval's ``steps`` now.

        The TTL index does this by itself within about a minute; ``expire`` is for
        callers who need it at once (and for data written before ``steps`` was set).
        """
        now = self.clock() if now is None else now
        for spec in docs.expire_filters(name, self.intervals.values(), now):
            self._run(lambda: self.collection.delete_many(spec))


_BUILT = "!built"


def _entry_id(entry: Tuple[int, str, str]) -> str:
    """The ``_id`` of an index document: depth, kind and path."""
    return "%d %s %s" % (entry[0], entry[2], entry[1])
