"""Parsing `uva roi`'s --reframe aspect and --size values."""

from __future__ import annotations

from .windows import even


def parse_aspect(text: str) -> float:
    """'9:16', '9x16', '9/16' or '0.5625' -> width / height."""
    for sep in (":", "x", "/"):
        if sep in text:
            w, _, h = text.partition(sep)
            break
    else:
        w, h = text, "1"
    try:
        value = float(w) / float(h)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"not an aspect ratio: {text!r} (try 9:16, 1:1, 4:5)") from None
    if not (0.05 < value < 20):
        raise ValueError(f"aspect ratio {text!r} is out of range")
    return value


def parse_size(text: str) -> tuple[int, int]:
    """'640x360' -> (640, 360); sides are made even for H.264."""
    w, sep, h = text.lower().partition("x")
    try:
        width, height = int(w), int(h)
    except ValueError:
        raise ValueError(f"not a size: {text!r} (try 640x360)") from None
    if not sep or width < 2 or height < 2:
        raise ValueError(f"not a size: {text!r} (try 640x360)")
    return even(width), even(height)
