"""torus: karbon (Carbon plaintext ingest) and torus (HTTP queries) over kairos timeseries."""
from kairos import __version__

__all__ = ["__version__"]
