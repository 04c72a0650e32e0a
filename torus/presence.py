"""Whether a stat has ever been stored (and not deleted): one read of the name index per stat.

A /series of a stat nobody ever wrote answers the same zeros or gaps as a stat
without traffic in the range. ``stored(schema, names)`` tells them apart through
kairos' name index (``Timeseries.known``), which every engine keeps next to its
data: one indexed read, never a scan, the same on every engine. The index forgets
a deleted name at once and an expired one at karbon's next upkeep pass
(``--expire-every``), so a stat whose data all expired reads as stored until then.

None means "cannot tell" (a name the index cannot hold, such as ``a..b``); callers
must not treat it as "never stored".
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Sequence

from .schema import Schema


def stored(schema: Schema, names: Sequence[str]) -> Dict[str, Optional[bool]]:
    """Per name: True when stored in ``schema``, False when not, None: cannot tell."""
    return schema.timeseries.known(names)


def has_values(data: Any) -> bool:
    """Whether an answer holds any non-empty value (then the stat is stored: no lookup needed)."""
    if isinstance(data, dict):
        return any(has_values(value) for value in data.values())
    if isinstance(data, (list, tuple, set, frozenset)):
        return any(has_values(value) for value in data)
    return data is not None and data != 0 and data is not False
