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
