"""kairos: timeseries storage on Redis, SQL, MongoDB or Cassandra behind one API.

    from kairos import Timeseries
    t = Timeseries('sqlite:///:memory:', type='count', intervals={'minute': {'step': 60}})
    t.insert('hits', 1)
    t.get('hits', 'minute')
"""
from .exceptions import (BackendError, Closed, ConfigError, InvalidValue, KairosError, PartiallyStored,
                         UnknownBackend, UnknownInterval, UnsupportedType)
from .names import Node
from .pending import Pending
from .timeseries import Timeseries

__version__ = "1.0.0.dev0"

__all__ = ["Timeseries", "Node", "KairosError", "ConfigError", "UnknownInterval",
           "UnknownBackend", "UnsupportedType", "InvalidValue", "BackendError", "Closed",
           "PartiallyStored", "Pending", "__version__"]
