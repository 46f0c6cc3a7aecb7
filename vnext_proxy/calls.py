"""What the layers hand each other about a Nova call: the call itself, ready
to send, and the microversion it is sent at. Pure data, importing nothing of
the proxy, so the pure mapping engine can plan calls that ``vnext_proxy.nova``
sends without either importing the other."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import orjson
from keystoneauth1 import discover

from vnext_proxy.errors import VNextError

Microversion = tuple[int, int]


def microversion(text: str) -> Microversion:
    """'2.100' -> (2, 100): compared as numbers, so 2.100 is after 2.99.
    keystoneauth1 parses it as every OpenStack client does; ValueError if
    it is not a major.minor version."""
    try:
        parsed = discover.normalize_version_number(text)
    except TypeError:
        raise ValueError(f"not a microversion: {text!r}") from None
    if len(parsed) != 2:
        raise ValueError(f"not a major.minor microversion: {text!r}")
    return int(parsed[0]), int(parsed[1])


@dataclass(frozen=True)
class PlannedCall:
    """A Nova call ready to send: path expanded (each value quoted once),
    query filled in."""

    name: str
    method: str
    path: str
    query: tuple[tuple[str, str], ...] = ()
    body: Any = None
    #: Sent at this microversion instead of the configured one.
    microversion: str | None = None


@dataclass(frozen=True)
class NovaAnswer:
    """One answer of Nova. The body is decoded when first read: a caller that
    already knows these exact bytes (a repeated list) never decodes them."""

    status: int
    request_id: str | None
    raw: bytes
    content_type: str = "application/json"

    @cached_property
    def body(self) -> Any:
        return _decode(self.raw, self.content_type)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def part(self, *keys: str, kind: type | None = None) -> Any:
        """The value at ``keys`` in the answer (of type ``kind``, if given); a
        502 when Nova's answer does not have the shape its API promises (a
        proxy's error page, say)."""
        value = self.body
        for key in keys:
            if not isinstance(value, Mapping) or key not in value:
                raise VNextError(502, f"Nova's answer has no {'.'.join(keys)}")
            value = value[key]
        if kind is not None and not isinstance(value, kind):
            raise VNextError(502, f"Nova's {'.'.join(keys)} is not a {kind.__name__}")
        if kind is list and not all(isinstance(item, Mapping) for item in value):
            raise VNextError(502, f"Nova's {'.'.join(keys)} holds something other than objects")
        return value


def _decode(raw: bytes, content_type: str) -> Any:
    if not raw:
        return None
    if content_type == "application/json":
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None
    return raw.decode("utf-8", "replace")


#: How the layers above the Nova client reach Nova for one request: the
#: caller's token, request id and explain record are already bound in.
Send = Callable[[PlannedCall], Awaitable[NovaAnswer]]
