"""The kairos exception tree: every error the library raises on purpose is a KairosError.

Each class also derives from the builtin a caller would naturally catch
(ValueError for bad arguments, NotImplementedError for unsupported types), so
code written against the original API keeps working.
"""


class KairosError(Exception):
    """Base of every error raised by kairos."""


class ConfigError(KairosError, ValueError):
    """A timeseries was configured with invalid options (bad step, intervals, value_type...)."""


class UnknownInterval(KairosError, ValueError):
    """A read or write named an interval the timeseries does not define."""


class UnknownBackend(KairosError, ValueError):
    """No storage engine is registered for the given URL scheme or client object."""


class UnsupportedType(KairosError, NotImplementedError):
    """The storage engine does not implement the requested timeseries type."""


class InvalidValue(KairosError, ValueError):
    """A value, name or timestamp cannot be stored (wrong type for the column, not a number...)."""


class BackendError(KairosError):
    """The storage engine failed (connection refused, query error...); wraps the driver's error."""


class Closed(BackendError):
    """The timeseries was closed (``close()``): its storage calls fail from then on.

    A BackendError, so callers that already survive an unreachable database (a retry, a
    503) treat it the same way instead of crashing.
    """


class PartiallyStored(KairosError):
    """A batch was applied, except the bucket writes the database refused one by one.

    Raised by engines that apply a batch per bucket write (Redis): a total that would
    not stay a finite number, a key of another type. Everything else of the batch is
    stored (and recorded under its ``batch_id``), so the caller must not write the
    batch again. ``refused`` holds ``(bucket, points, reason)``: the bucket
    ``(name, interval, i_key, r_key)``, how many values of the batch it held, and why.
    """

    def __init__(self, refused):
        self.refused = list(refused)
        first = self.refused[0] if self.refused else None
        more = " (and %d more)" % (len(self.refused) - 1) if len(self.refused) > 1 else ""
        super().__init__("%d bucket write(s) refused; first: %s: %s%s" % (
            len(self.refused), first[0] if first else "-", first[2] if first else "-", more))
