"""Named registries: one mechanism for every kind of extension (hand models, encoders, render
backends, shadings, losses, datasets, optimisers, supervision presets).

A :class:`Registry` maps a name to a value (a class, a factory, a spec) and a one-line
description. Modules fill their registry at import time; everything else reads it. An unknown
name raises :class:`UnknownNameError` with the closest registered name (:func:`did_you_mean`)
and the valid ones; registering a name twice raises :class:`DuplicateNameError`.

>>> COLOURS = Registry("colour")
>>> COLOURS.register("red", (1.0, 0.0, 0.0), description="pure red")
(1.0, 0.0, 0.0)
>>> COLOURS.get("rd")
Traceback (most recent call last):
...
hifihr.registry.UnknownNameError: unknown colour 'rd' (did you mean 'red'?); valid names: red
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, Callable, Generic, Iterable, Optional, TypeVar, overload

T = TypeVar("T")


class UnknownNameError(ValueError):
    """A name is not registered; the message gives the closest registered one and all of them."""


class DuplicateNameError(ValueError):
    """A name is registered a second time."""


def closest(name: str, valid: Iterable[str]) -> Optional[str]:
    """The entry of ``valid`` closest to ``name`` (difflib's ratio, at least 0.6), or None."""
    close = difflib.get_close_matches(name, list(valid), n=1)
    return close[0] if close else None


def did_you_mean(name: str, valid: Iterable[str]) -> str:
    """``" (did you mean 'x'?)"`` for the :func:`closest` of ``valid`` to ``name``, else ``""``."""
    match = closest(name, valid)
    return f" (did you mean {match!r}?)" if match is not None else ""


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One registered name: its value and a one-line description."""

    name: str
    value: T
    description: str


def _first_line(value: Any) -> str:
    doc = (getattr(value, "__doc__", None) or "").strip().splitlines()
    return doc[0].strip() if doc else ""


class Registry(Generic[T]):
    """Name -> value, for one kind of thing (``kind`` names it in messages, e.g. ``"loss"``)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}

    @overload
    def register(self, name: str, value: T, *, description: Optional[str] = None) -> T: ...

    @overload
    def register(self, name: str, *, description: Optional[str] = None) -> Callable[[T], T]: ...

    def register(self, name: str, value: Any = None, *, description: Optional[str] = None) -> Any:
        """Register ``value`` under ``name`` and return it; without ``value``, a decorator that does.

        ``description`` defaults to the first line of the value's docstring.

        Raises:
            DuplicateNameError: ``name`` is already registered.
        """

        def add(item: T) -> T:
            if name in self._entries:
                raise DuplicateNameError(f"{self.kind} {name!r} is registered twice")
            text = _first_line(item) if description is None else description
            self._entries[name] = Entry(name=name, value=item, description=text)
            return item

        return add if value is None else add(value)

    def unknown_message(self, name: str) -> str:
        """``"unknown <kind> 'x' (did you mean 'y'?); valid names: a, b"``."""
        return f"unknown {self.kind} {name!r}{did_you_mean(name, self._entries)}; valid names: {', '.join(self.names())}"

    def entry(self, name: str) -> Entry[T]:
        """The entry of ``name``; raises :class:`UnknownNameError` for an unknown one."""
        if name not in self._entries:
            raise UnknownNameError(self.unknown_message(name))
        return self._entries[name]

    def get(self, name: str) -> T:
        """The value registered as ``name``; raises :class:`UnknownNameError` for an unknown one."""
        return self.entry(name).value

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self._entries)

    def describe(self) -> dict[str, str]:
        """Name -> one-line description, sorted by name."""
        return {name: self._entries[name].description for name in self.names()}

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, names={self.names()})"
