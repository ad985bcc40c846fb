"""One TOML table of the configuration, read key by key: every key is checked for its
type and range, every error names the file and the key, and keys nobody asked for are
reported (a typo must not silently fall back to a default)."""

from __future__ import annotations

import difflib
import math
import re
from pathlib import Path
from typing import Any, TypeVar

from .errors import ConfigError

_DURATION_RE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*")
_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
MAX_DURATION = 366 * 86400.0  # a year: longer is a typo, and sleeping on it overflows


def parse_duration(text: str) -> float:
    """Seconds in ``"90s"``, ``"15m"``, ``"1h"``, ``"1d"`` or a bare number of seconds."""
    m = _DURATION_RE.fullmatch(text)
    if not m:
        raise ValueError(f"not a duration: {text!r} (use e.g. 90s, 15m, 1h, 1d)")
    return float(m.group(1)) * _UNITS[m.group(2)]


T = TypeVar("T")


class Table:
    """Reads one TOML table, remembering which keys were used, with precise error messages."""

    def __init__(self, data: Any, where: str, file: Path) -> None:
        self.file = file
        self.where = where
        if not isinstance(data, dict):
            self.fail("", f"must be a table, got {type(data).__name__}")
        self.data: dict[str, Any] = data
        self.used: set[str] = set()

    def fail(self, key: str, problem: str) -> None:
        name = f"{self.where}.{key}" if self.where and key else (key or self.where)
        raise ConfigError(f"{self.file}: {name}: {problem}")

    def _get(self, key: str, kind: type[T], kind_name: str, default: T) -> T:
        self.used.add(key)
        if key not in self.data:
            return default
        value = self.data[key]
        # bool is an int in Python; TOML keeps them apart, so do we.
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            self.fail(key, f"must be {kind_name}, got {value!r}")
        return value  # type: ignore[no-any-return]

    def text(self, key: str, default: str = "", *, required: bool = False) -> str:
        if required and key not in self.data:
            close = difflib.get_close_matches(key, [str(k) for k in self.data], n=1, cutoff=0.6)
            hint = f" (is {close[0]!r} a typo of it?)" if close else ""
            self.fail(key, "is required" + hint)
        value = self._get(key, str, "a string", default)
        if required and not value.strip():
            self.fail(key, "must not be empty")
        if CONTROL.search(value):
            # A name with a line break wrote commit trailers and broke the README table.
            self.fail(key, f"{value!r} must not contain line breaks or control characters")
        return value

    def flag(self, key: str, default: bool) -> bool:
        return self._get(key, bool, "true or false", default)

    def number(self, key: str, default: int, *, minimum: int = 0, maximum: int = 2**31 - 1) -> int:
        value = self._get(key, int, "an integer", default)
        if value < minimum:
            self.fail(key, f"must be at least {minimum}, got {value}")
        if value > maximum:
            self.fail(key, f"must be at most {maximum}, got {value}")
        return value

    def duration(self, key: str, default: float, *, allow_zero: bool = False) -> float:
        self.used.add(key)
        if key not in self.data:
            return default
        value = self.data[key]
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            seconds = float(value)
        elif isinstance(value, str):
            try:
                seconds = parse_duration(value)
            except ValueError as e:
                self.fail(key, str(e))
        else:
            self.fail(key, f'must be a duration such as "30s" or "1h", got {value!r}')
        if not math.isfinite(seconds):  # nan made `run` loop without pause
            self.fail(key, f"must be a finite duration, got {value!r}")
        if seconds < 0 or (seconds == 0 and not allow_zero):
            self.fail(key, "must be positive")
        if seconds > MAX_DURATION:
            self.fail(key, f"must be at most {MAX_DURATION / 86400:.0f} days, got {value!r}")
        return seconds

    def str_list(self, key: str) -> tuple[str, ...]:
        value = self._get(key, list, "a list of strings", [])
        if not all(isinstance(v, str) for v in value):
            self.fail(key, f"must be a list of strings, got {value!r}")
        for v in value:
            if CONTROL.search(v):
                self.fail(key, f"{v!r} must not contain line breaks or control characters")
        return tuple(value)

    def table(self, key: str) -> Table:
        self.used.add(key)
        return Table(
            self.data.get(key, {}), f"{self.where}.{key}" if self.where else key, self.file
        )

    def choice(self, key: str, choices: tuple[T, ...], default: T) -> T:
        value = self._get(key, str, "a string", default)
        if value not in choices:
            self.fail(key, f"must be one of {', '.join(map(repr, choices))}, got {value!r}")
        return value  # type: ignore[return-value]

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            self.fail(unknown[0], "unknown key (a typo?)")
