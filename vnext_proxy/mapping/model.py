"""Frozen, typed form of the mapping files. Built once at start-up."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

RouteStatus = Literal["mapped", "proxy", "not_applicable"]


@dataclass(frozen=True)
class Source:
    """Where a declaration came from, for error messages."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class GapRow:
    """The gap-analysis row a route implements."""

    section: str
    purpose: str
    v2_call: str
    vnext_call: str
    spec: str  # "seed" (gap-analysis.md) or "later" (gap-analysis-later.md)


@dataclass(frozen=True)
class FieldSpec:
    """How one vNext field is made from a Nova object.

    Exactly one of ``source``, ``hook``, ``const`` or ``fields`` is set;
    ``value_map`` and ``default`` refine ``source``.
    """

    name: str
    source: tuple[str, ...] | None = None
    value_map: tuple[tuple[Any, Any], ...] | None = None
    default: Any = None
    hook: str | None = None
    const: Any = None
    fields: tuple[FieldSpec, ...] | None = None


@dataclass(frozen=True)
class ObjectSpec:
    """A vNext object (server_type, server, ...) rendered from a Nova object."""

    name: str
    fields: tuple[FieldSpec, ...]
    links: tuple[tuple[str, str], ...]
    source: Source


@dataclass(frozen=True)
class NovaCall:
    """One call to Nova. ``path`` is an RFC 6570 template over route variables."""

    name: str
    method: str
    path: str
    min_microversion: tuple[int, int]
    query: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ResponseSpec:
    status: int = 200
    #: Render one object from the Nova body at ``source`` (a path whose first
    #: part is the call name).
    object: str | None = None
    source: tuple[str, ...] = ()
    #: For a collection: the vNext key the rendered list goes under.
    list_key: str | None = None
    #: A named hook that builds the whole body (JSON-Home, schemas, ...).
    hook: str | None = None
    content_type: str = "application/json"


@dataclass(frozen=True)
class NotApplicable:
    reason: str
    answer: int
    use_instead: str


@dataclass(frozen=True)
class Route:
    rel: str
    method: str
    uri: str  # RFC 6570 template, e.g. /server_types{?limit,marker,tag}
    summary: str
    status: RouteStatus
    gap: GapRow | None
    source: Source
    auth: bool = True
    nova: tuple[NovaCall, ...] = ()
    response: ResponseSpec = ResponseSpec()
    not_applicable: NotApplicable | None = None
    path_vars: tuple[str, ...] = ()
    query_vars: tuple[str, ...] = ()

    @property
    def path(self) -> str:
        """The path part of the template, in aiohttp's ``{var}`` syntax."""
        return self.uri.split("{?", 1)[0]


@dataclass(frozen=True)
class MappingSet:
    """Everything the mappings declare, checked and cross-referenced."""

    routes: tuple[Route, ...]
    objects: dict[str, ObjectSpec] = field(default_factory=dict)

    def route_by_rel(self, rel: str) -> list[Route]:
        return [r for r in self.routes if r.rel == rel]
