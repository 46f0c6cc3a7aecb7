"""Named hooks: the few things a mapping cannot say in YAML.

A mapping refers to a hook by name; the loader refuses unknown names. Field
hooks take the Nova object being rendered and return the vNext value. Body
hooks build a whole response body from the route context (JSON-Home).
Each hook says which gap-table row or spec section it serves.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from vnext_proxy.errors import VNextError
from vnext_proxy.mapping.ids import keypair_id
from vnext_proxy.mapping.jsonhome import build_json_home
from vnext_proxy.mapping.model import MappingSet
from vnext_proxy.mapping.openapi import build_openapi


@dataclass(frozen=True)
class RenderContext:
    """What field hooks may read besides the Nova object."""

    id_namespace: uuid.UUID


FieldHook = Callable[[Mapping[str, Any], RenderContext], Any]


@dataclass(frozen=True)
class BodyContext:
    """What a body hook may read: the whole mapping set and the request."""

    mappings: MappingSet
    path: str
    variables: Mapping[str, str]


BodyHook = Callable[[BodyContext], Any]

FIELD_HOOKS: dict[str, FieldHook] = {}
BODY_HOOKS: dict[str, BodyHook] = {}


def field_hook(fn: FieldHook) -> FieldHook:
    FIELD_HOOKS[fn.__name__] = fn
    return fn


def body_hook(fn: BodyHook) -> BodyHook:
    BODY_HOOKS[fn.__name__] = fn
    return fn


@field_hook
def flavor_swap_mb(flavor: Mapping[str, Any], ctx: RenderContext) -> int:
    """Server type spec.swap_mb: Nova shows no swap as "" below 2.75."""
    swap = flavor.get("swap")
    return swap if isinstance(swap, int) else 0


@field_hook
def flavor_tags(flavor: Mapping[str, Any], ctx: RenderContext) -> list[str]:
    """Server type tags: vNext types have tags, Nova keeps them in extra specs
    (``vnext:tags``, comma separated), as the gap table's extra-specs row says."""
    raw = (flavor.get("extra_specs") or {}).get("vnext:tags", "")
    return [t for t in str(raw).split(",") if t]


@field_hook
def server_keypair_id(server: Mapping[str, Any], ctx: RenderContext) -> str | None:
    """launch_keypair_id: Nova knows a keypair by its owner and name only, so
    its vNext id is a UUIDv5 of both (the launching user owns it)."""
    name = server.get("key_name")
    return keypair_id(ctx.id_namespace, server.get("user_id"), name) if name else None


@field_hook
def keypair_vnext_id(keypair: Mapping[str, Any], ctx: RenderContext) -> str | None:
    """A keypair's id (the keypairs extension): the UUIDv5 of its owner and
    name that a server launched with it shows as launch_keypair_id. Nova's
    detail names the owner; the list does not, so the handler adds it."""
    name = keypair.get("name")
    owner = keypair.get("user_id")
    return keypair_id(ctx.id_namespace, owner, name) if name and owner else None


@field_hook
def server_networking(server: Mapping[str, Any], ctx: RenderContext) -> dict[str, Any]:
    """networking: one interface per MAC (eth0, eth1, ... in Nova's order) with
    its fixed addresses; floating and access IPs are the access addresses."""
    interfaces: dict[str, dict[str, Any]] = {}
    access: dict[str, list[str]] = {"ip4": [], "ip6": []}
    by_mac: dict[str, dict[str, Any]] = {}
    for addresses in (server.get("addresses") or {}).values():
        for address in addresses:
            family = f"ip{address.get('version', 4)}"
            if address.get("OS-EXT-IPS:type") == "floating":
                access[family].append(address["addr"])
                continue
            mac = address.get("OS-EXT-IPS-MAC:mac_addr", "")
            interface = by_mac.get(mac)
            if interface is None:
                interface = by_mac[mac] = {"mac": mac}
                interfaces[f"eth{len(interfaces)}"] = interface
            interface.setdefault(family, address["addr"])
    for family, key in (("ip4", "accessIPv4"), ("ip6", "accessIPv6")):
        if server.get(key) and server[key] not in access[family]:
            access[family].append(server[key])
    return {"interfaces": interfaces, "access": access}


@field_hook
def server_block_devices(server: Mapping[str, Any], ctx: RenderContext) -> list[dict[str, Any]]:
    """block_devices: the image-backed root disk (its device is shown to admins
    only), then each attached volume. GET /servers/{id} asks Nova for the
    attachments and shows their devices; in lists, where that would be one
    more Nova call per server, a volume's device is null."""
    devices: list[dict[str, Any]] = []
    root = server.get("OS-EXT-SRV-ATTR:root_device_name")
    if server.get("image") and root:
        devices.append({"type": "EPHEMERAL", "device": root})
    attachments = ((server.get("_calls") or {}).get("volumes") or {}).get("volumeAttachments")
    if attachments is None:
        attachments = [{"volumeId": v["id"]} for v in server.get("os-extended-volumes:volumes_attached") or []]
    for attachment in attachments:
        devices.append({"type": "PERSISTENT", "device": attachment.get("device"), "volume_id": attachment["volumeId"]})
    return devices


@body_hook
def json_home(ctx: BodyContext) -> dict[str, Any]:
    """GET / : the JSON-Home document, generated from the routes themselves."""
    return build_json_home(ctx.mappings)


@body_hook
def openapi_document(ctx: BodyContext) -> dict[str, Any]:
    """GET /openapi.json: the OpenAPI 3.1 document, generated from the routes
    and the published schemas, for client generators and API fuzzers."""
    return build_openapi(ctx.mappings)


@body_hook
def schema_index(ctx: BodyContext) -> list[dict[str, Any]]:
    """GET /schemas: every published schema, in the spec's form (a bare list
    of type, description and a rel/schema link)."""
    return [
        {
            "type": name,
            "description": schema.get("description", ""),
            "_links": {"rel/schema": {"href": f"/schemas/{name}"}},
        }
        for name, schema in sorted(ctx.mappings.schemas.items())
    ]


@body_hook
def schema_document(ctx: BodyContext) -> Any:
    """GET /schemas/{object}: the JSON-Schema of one vNext object."""
    name = ctx.variables.get("object", "")
    schema = ctx.mappings.schemas.get(name)
    if schema is None:
        known = ", ".join(sorted(ctx.mappings.schemas))
        raise VNextError(404, f"No schema named {name!r}; known: {known}")
    return schema
