"""Naming unknown names with the close match a typo most likely meant (``difflib``)."""
from __future__ import annotations

import difflib
from typing import Iterable, List


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """``'name' (did you mean 'close'?)``, or just ``'name'`` when nothing known is close."""
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.75)
    if not close and name.upper() != name:
        close = difflib.get_close_matches(name.lower(), [k.lower() for k in known], n=1, cutoff=0.75)
    return "%r (did you mean %r?)" % (name, close[0]) if close else repr(name)


def unknown(what: str, names: Iterable[str], known: Iterable[str]) -> str:
    """``unknown <what> 'a' (did you mean 'b'?)`` or ``unknown <what>s 'a', 'c'`` for several."""
    known = list(known)
    shown: List[str] = [did_you_mean(name, known) for name in sorted(names)]
    return "unknown %s%s %s" % (what, "s" if len(shown) > 1 else "", ", ".join(shown))
