"""Close matches for a mistyped name, for error messages that suggest the fix."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def close_matches(name: str, valid: Iterable[str]) -> list[str]:
    """Up to three of ``valid`` that look like ``name`` (a likely typo of them), best first."""
    return difflib.get_close_matches(name, list(valid), n=3, cutoff=0.6)


def did_you_mean(name: str, valid: Iterable[str], form: str = "; did you mean {}?") -> str:
    """``form`` filled with the close matches of ``name`` (``"; did you mean 'x', 'y'?"``), or
    ``""`` when there are none."""
    close = close_matches(name, valid)
    return form.format(", ".join(repr(match) for match in close)) if close else ""
