"""Parse the durations and sizes users write in policies and options."""

from __future__ import annotations

import re

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$")
_BYTES = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}


def parse_duration(text: str) -> float:
    """Seconds in a duration such as ``90d``, ``12h`` or ``30s``.

    Raises ValueError with a message fit for the user.
    """
    match = _DURATION.match(str(text))
    if not match:
        raise ValueError(
            f"bad duration {text!r}: write a number and a unit "
            "among s, m, h, d, w (e.g. 14d)",
        )
    return float(match.group(1)) * _SECONDS[match.group(2)]


def parse_size(text: str | int) -> int:
    """Bytes in a size such as ``200MB`` or ``1.5GiB``.

    Units: B, kB, MB, GB, TB (powers of 1000) and KiB, MiB, GiB, TiB
    (powers of 1024); a bare number is bytes.
    """
    if isinstance(text, bool):
        raise ValueError(f"bad size {text!r}: write e.g. 200MB or 1GiB")
    if isinstance(text, int):
        if text < 0:
            raise ValueError(f"bad size {text!r}: a size cannot be negative")
        return text
    match = _SIZE.match(str(text))
    unit = match.group(2).lower() if match else None
    if not match or unit not in _BYTES:
        raise ValueError(
            f"bad size {text!r}: write a number and a unit among "
            "B, kB, MB, GB, KiB, MiB, GiB (e.g. 200MB)",
        )
    return int(float(match.group(1)) * _BYTES[unit])


def plural(number: int, noun: str) -> str:
    """``1 run``, ``2 runs``: a count with its noun."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
