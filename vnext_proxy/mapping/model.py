"""Frozen, typed form of the mapping files. Built once at start-up."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from cachetools import LRUCache

from vnext_proxy.mapping.gaptable import GapRow

RouteStatus = Literal["mapped", "proxy", "not_applicable"]


@dataclass(frozen=True)
class Source:
    """Where a declaration came from, for error messages."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class FieldSpec:
    """How one vNext field is made from a Nova object.

    Exactly one of ``source``, ``hook``, ``const`` or ``fields`` is set;
    ``value_map``, ``translate``, ``format`` and ``default`` refine
    ``source``. With ``when``, the field is ``otherwise`` unless the Nova
    object has a non-null value at that path (e.g. admin-only keys).
    """

    name: str
    source: tuple[str, ...] | None = None
    value_map: tuple[tuple[Any, Any], ...] | None = None
    enum: str | None = None
    default: Any = None
    translate: str | None = None
    format: str | None = None
    hook: str | None = None
    const: Any = None
    fields: tuple[FieldSpec, ...] | None = None
    when: tuple[str, ...] | None = None
    otherwise: Any = None
    #: Where the mapping declares it (the compare page links there).
    declared: Source | None = field(default=None, compare=False)


class KeptRenders:
    """Renders kept by their Nova object's bytes, bounded by bytes, not by
    entries: a tenant controls its servers' metadata (up to about 64 KB each)."""

    #: What one object's renders may hold, unless the config says otherwise.
    DEFAULT_BYTES = 32 * 2**20

    def __init__(self, max_bytes: int = DEFAULT_BYTES) -> None:
        self.resize(max_bytes)

    def resize(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._kept: LRUCache[tuple[int, bytes], tuple[dict[str, Any], int]] = LRUCache(
            maxsize=max_bytes, getsizeof=lambda kept: kept[1]
        )

    @property
    def size(self) -> int:
        """Bytes kept now."""
        return int(self._kept.currsize)

    def get(self, key: tuple[int, bytes]) -> dict[str, Any] | None:
        kept = self._kept.get(key)
        return kept[0] if kept is not None else None

    def put(self, key: tuple[int, bytes], rendered: dict[str, Any]) -> None:
        # The key's bytes, and about as much again for the render.
        size = 2 * len(key[1]) + 256
        if size <= self.max_bytes:
            self._kept[key] = (rendered, size)


@dataclass(frozen=True)
class ObjectSpec:
    """A vNext object (server_type, server, ...) rendered from a Nova object."""

    name: str
    fields: tuple[FieldSpec, ...]
    links: tuple[tuple[str, str], ...]
    source: Source
    #: Rendering is a pure function of the Nova object, so the last renders
    #: are kept (by the Nova object's bytes): lists of unchanged servers cost
    #: a lookup, not a render. Not part of the declaration.
    renders: KeptRenders = field(default_factory=lambda: KeptRenders(), compare=False, hash=False, repr=False)


@dataclass(frozen=True)
class NovaCall:
    """One call to Nova. ``path`` is an RFC 6570 template over route variables."""

    name: str
    method: str
    path: str
    min_microversion: tuple[int, int]
    query: tuple[tuple[str, str], ...] = ()
    #: Made only when earlier answers have a non-empty value at this path
    #: (``if_answer:`` in the mapping files).
    when: tuple[str, ...] | None = None
    #: Made only when the request body has this key (even if empty).
    if_given: str | None = None
    #: JSON body template: a whole-string "{name}" takes the variable's value
    #: ("{body}" is the request's JSON); a key whose variable is absent is left out.
    body: Any = None


@dataclass(frozen=True)
class Derived:
    """A variable made from another through a value map (e.g. a console type
    to Nova's protocol); a value the map lacks answers 400 naming ``source``
    (the route variable, ``var:`` in the mapping files)."""

    name: str
    source: str
    value_map: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class Filter:
    """A list filter: passed to Nova when it can, applied in the proxy otherwise."""

    var: str
    field: tuple[str, ...]  # the rendered vNext field it tests
    nova_param: str | None = None
    min_microversion: tuple[int, int] | None = None
    #: vNext value -> Nova value, for passing the filter to Nova: made by the
    #: loader from the map of the field it tests, inverted (a vNext value
    #: several Nova values give is left out, so the proxy applies it). None:
    #: the values are Nova's own.
    to_nova: tuple[tuple[Any, Any], ...] | None = None
    match: str = "equals"  # "contains" for list fields (tags), "after" for timestamps
    #: Also check Nova's result: Nova drops some filters silently for some callers.
    verify: bool = False
    #: The value names a project, which the caller must be able to see (400 otherwise).
    project: bool = False


@dataclass(frozen=True)
class Selector:
    """Pick one item of a Nova list: the one whose rendered field equals a variable."""

    var: str
    fields: tuple[str, ...]


@dataclass(frozen=True)
class Paging:
    #: "nova": Nova pages (limit/marker pass through; markers are Nova ids).
    #: "proxy": fetch the whole (small) collection and page it here.
    mode: str
    max_scan: int = 1000
    default_limit: int = 20
    max_limit: int = 1000


@dataclass(frozen=True)
class ResponseSpec:
    status: int = 200
    #: Render one object from the Nova body at ``source`` (a path whose first
    #: part is the call name: ``from_answer:``), or from the route's variables
    #: (("request",): ``from_variables: true``).
    object: str | None = None
    source: tuple[str, ...] = ()
    #: For a collection: the vNext key the rendered list goes under.
    list_key: str | None = None
    #: A named hook that builds the whole body (JSON-Home, schemas, ...).
    hook: str | None = None
    content_type: str = "application/json"
    select: Selector | None = None
    headers: tuple[tuple[str, str], ...] = ()
    body: bool = True
    paging: Paging | None = None
    filters: tuple[Filter, ...] = ()


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
    gap: tuple[str, ...]  # purposes of the gap-table rows this route implements
    source: Source
    auth: bool = True
    nova: tuple[NovaCall, ...] = ()
    response: ResponseSpec = ResponseSpec()
    not_applicable: NotApplicable | None = None
    path_vars: tuple[str, ...] = ()
    query_vars: tuple[str, ...] = ()
    #: Nova status -> the status vNext answers (403 -> 404 hides what is not yours).
    errors: tuple[tuple[int, int], ...] = ()
    #: A named Python handler serves it (see mapping.variables.ROUTE_HANDLERS).
    handler: str | None = None
    #: JSON-Schema the request body must match (routes that take a body).
    request_schema: dict[str, Any] | None = None
    derived: tuple[Derived, ...] = ()
    #: Nova checks some policies before it looks the resource up, so another
    #: project's server gets 403; on a 403 the proxy GETs this path, and
    #: answers 404 if the caller cannot see it at all.
    owner_probe: str | None = None
    #: A route variable naming a project the caller must be able to see
    #: (checked with Nova's project policy before the calls; 404 otherwise).
    requires_project: str | None = None
    #: Route variables turned into Nova ids before the calls (name -> resolver).
    resolve: tuple[tuple[str, str], ...] = ()
    #: Why the proxy serves a route neither revision of the spec has (its
    #: ``extension:``); None for the spec's own routes.
    extension: str | None = None
    #: Body keys the spec allows but Nova cannot carry out: (key, status,
    #: reason), answered before anything is sent.
    refuse_keys: tuple[tuple[str, int, str], ...] = ()
    #: Body keys that repeat a path variable (the spec's PATCH bodies name the
    #: object's own id): (key, path variable); 400 unless equal.
    same_as_path: tuple[tuple[str, str], ...] = ()

    @property
    def path(self) -> str:
        """The path part of the template, in aiohttp's ``{var}`` syntax."""
        return self.uri.split("{?", 1)[0]


@dataclass(frozen=True)
class GapEntry:
    """A gap-table row implemented by something other than its own route."""

    gap: tuple[str, ...]
    status: str  # mapped, not_applicable or planned
    note: str
    source: Source


@dataclass(frozen=True)
class MappingSet:
    """Everything the mappings declare, checked and cross-referenced."""

    routes: tuple[Route, ...]
    objects: dict[str, ObjectSpec] = field(default_factory=dict)
    gap_entries: tuple[GapEntry, ...] = ()
    gap_rows: dict[str, GapRow] = field(default_factory=dict)
    #: The published JSON-Schema documents, by object name (mappings/schemas).
    schemas: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Task actions, by vNext name.
    actions: dict[str, ActionSpec] = field(default_factory=dict)
    #: Nova task_state -> vNext task item action.
    task_items: dict[str, str] = field(default_factory=dict)
    #: Nova instance-action event -> vNext task item action.
    event_items: dict[str, str] = field(default_factory=dict)
    #: A hash of every file the set was read from: which mappings a proxy
    #: serves (JSON-Home, /healthcheck), and whether a reload changed them.
    version: str = ""

    def route_by_rel(self, rel: str) -> list[Route]:
        return [r for r in self.routes if r.rel == rel]


@dataclass(frozen=True)
class StateMatch:
    """Nova server states that end an action; None fields match anything.
    ``gone`` matches a server Nova no longer shows (404)."""

    vm_state: str | None = None
    task_state: str | None = None
    match_task_state: bool = False  # task_state given (null is a value)
    status: str | None = None
    gone: bool = False

    def matches(self, server: dict[str, Any] | None) -> bool:
        if server is None:
            return self.gone
        if self.gone and not (self.vm_state or self.status):
            return False
        if self.vm_state is not None and server.get("OS-EXT-STS:vm_state") != self.vm_state:
            return False
        if self.match_task_state and server.get("OS-EXT-STS:task_state") != self.task_state:
            return False
        return self.status is None or server.get("status") == self.status


@dataclass(frozen=True)
class ActionCall:
    method: str
    path: str
    body: Any = None


@dataclass(frozen=True)
class ActionVariant:
    """What an action does and when it is done; the default or a variant."""

    nova_action: str
    call: ActionCall | None
    done: tuple[StateMatch, ...]
    confirm: bool = False
    sync: bool = False
    #: Having seen the server pass through a task state into an end state is
    #: proof enough (the end state differs from any state on the way).
    trust_state: bool = False
    when: tuple[tuple[str, Any], ...] = ()  # task parameters that select it


@dataclass(frozen=True)
class ActionSpec:
    """A task action (POST /servers/{server}/tasks), from server_tasks.yaml."""

    name: str
    gap: tuple[str, ...]
    params_schema: dict[str, Any]
    resolve: tuple[tuple[str, str], ...]
    variants: tuple[ActionVariant, ...]  # the first whose ``when`` matches; the default last
    refuse: str | None = None
    revert_of: str | None = None
    source: Source | None = None

    @property
    def secret_params(self) -> frozenset[str]:
        """Params marked ``writeOnly`` (a password): sent to Nova, never kept."""
        properties = self.params_schema.get("properties", {})
        return frozenset(name for name, schema in properties.items() if schema.get("writeOnly") is True)

    def variant_for(self, params: dict[str, Any]) -> ActionVariant:
        for variant in self.variants:
            if all(params.get(k) == v for k, v in variant.when):
                return variant
        return self.variants[-1]
