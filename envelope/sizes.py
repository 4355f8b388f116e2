"""Sizes as people write them ("10GB", "512MiB") and as pages show them:
the limits' and budgets' one parser and formatter."""
from __future__ import annotations

import re

from envelope.errors import InvalidInput

_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def parse_size(text: str) -> int:
    """"10GB" -> 10**9, "512MiB" -> 512 * 2**20, "0" -> 0: decimal and binary units, as disks and bills use."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    unit = match and _UNITS.get(match.group(2).lower())
    if not match or unit is None:
        raise InvalidInput(f"{text!r} is not a size: write a number with a unit, such as 500MB, 10GB or 2TiB.")
    return int(float(match.group(1)) * unit)


def parse_limit(text: str, *, members: bool = False) -> int | None:
    """A limit as the CLI and the admin page take it: blank or 'none' is no limit;
    a size ("10GB"), or for members a whole number."""
    text = text.strip()
    if text.lower() in ("", "none"):
        return None
    if members:
        if not text.isdigit():
            raise InvalidInput(f"{text!r} is not a number of members: give a whole number, or 'none' for no limit.")
        return int(text)
    return parse_size(text)


def format_bytes(size: int) -> str:
    """1_500_000_000 -> '1.5 GB' (decimal units, as the limits are usually written)."""
    value = float(size)
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{int(value)} bytes" if unit == "bytes" else f"{value:.3g} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


def exact_size(size: int) -> str:
    """A size written back exactly, for a form to resubmit unchanged: 10**10 -> '10GB', 1234 -> '1234'."""
    for unit, factor in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if size and size % factor == 0:
            return f"{size // factor}{unit}"
    return str(size)
