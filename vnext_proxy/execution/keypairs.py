"""Keypairs, the proxy's extension (mappings/keypairs.yaml): the spec launches
servers with a ``keypair_id`` but has no keypair resource to find one by.

Nova keeps keypairs per user, by name, with no UUID; the vNext id is a
UUIDv5 of owner and name (``mapping.ids.keypair_id``), as a server's
``launch_keypair_id`` and the launch checks compute it. Nova's list answers
the caller's own keypairs only (whoever asks, admins too, without
``user_id``) but names neither their owner nor their created time. The
owner is the caller: learnt once per token from one keypair's detail, which
names it. The created time is in the detail only, so the list shows
``created_at`` null and ``GET /keypairs/{keypair}`` reads that keypair's
detail: a list costs one Nova call (two for a token's first), a keypair two.

These are handlers, not Nova calls declared in the mapping, because the
owner is in no answer of the list call a mapping route makes; the fields
and links are still the mapping's (the ``keypair`` object).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vnext_proxy.errors import VNextError, from_nova, shown
from vnext_proxy.execution.context import Inbound, Services
from vnext_proxy.execution.paging import page_query, proxy_page
from vnext_proxy.mapping import engine
from vnext_proxy.mapping.engine import VNextResponse
from vnext_proxy.mapping.model import Selector
from vnext_proxy.nova import operations as ops

_OBJECT = "keypair"
#: Shown whatever the reason: another user's keypair is not there for this caller.
_NOT_FOUND = "No keypair of yours {}: GET /keypairs lists yours"


async def list_keypairs(services: Services, req: Inbound) -> VNextResponse:
    page = page_query(req.query)  # a bad limit is 400 before Nova is asked
    keypairs, _ = await _keypairs(services, req)
    obj = services.mappings.objects[_OBJECT]
    ctx = services.render_context
    items = [engine.render_object(obj, keypair, ctx) for keypair in keypairs]
    return proxy_page("keypairs", items, page, req.path, req.query, req.path_qs)


async def get_keypair(services: Services, req: Inbound) -> VNextResponse:
    wanted = req.match["keypair"]  # checked for its kind (a Nova name) already
    keypairs, details = await _keypairs(services, req)
    obj = services.mappings.objects[_OBJECT]
    ctx = services.render_context
    rendered = [engine.render_object(obj, keypair, ctx) for keypair in keypairs]
    # An id match wins over a name match, as for server types and placements.
    found = engine.select_item(rendered, Selector("keypair", ("id", "name")), wanted)
    if found is None:
        raise VNextError(404, _NOT_FOUND.format(shown(wanted)))
    name = found["name"]
    detail = details.get(name) or await _detail(req, name)
    if detail is None:  # deleted since Nova listed it
        raise VNextError(404, _NOT_FOUND.format(shown(wanted)))
    return VNextResponse(200, engine.render_object(obj, detail, ctx))


async def _keypairs(services: Services, req: Inbound) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """The caller's keypairs as Nova lists them, each with its owner (the
    caller) added, so a keypair renders as its detail would, less the
    created time; and the details read on the way, by name."""
    answer = await req.send(ops.KEYPAIRS())
    if not answer.ok:
        raise from_nova(answer.status, answer.body)
    keypairs: list[Mapping[str, Any]] = []
    for entry in answer.part("keypairs", kind=list):
        keypair = entry.get("keypair")
        if not isinstance(keypair, Mapping) or not isinstance(keypair.get("name"), str):
            raise VNextError(502, "Nova's list of keypairs holds something other than named keypairs")
        keypairs.append(keypair)
    details: dict[str, dict[str, Any]] = {}
    gone: set[str] = set()
    user_id = services.caller.user_id(req.token)
    for keypair in keypairs if user_id is None else ():
        # One detail names the owner; another only if that keypair was
        # deleted since Nova listed it.
        detail = await _detail(req, keypair["name"])
        if detail is None:
            gone.add(keypair["name"])
            continue
        details[keypair["name"]] = detail
        user_id = detail["user_id"]
        services.caller.learn_user_id(req.token, user_id)
        break
    return [{**k, "user_id": user_id} for k in keypairs if k["name"] not in gone], details


async def _detail(req: Inbound, name: str) -> dict[str, Any] | None:
    """One keypair's detail (Nova's list does not show its owner or created
    time); None when Nova no longer has it."""
    answer = await req.send(ops.KEYPAIR(keypair_name=name))
    if answer.status == 404:
        return None
    if not answer.ok:
        raise from_nova(answer.status, answer.body)
    detail = answer.part("keypair", kind=dict)
    if not isinstance(detail.get("user_id"), str) or detail.get("name") != name:
        raise VNextError(502, f"Nova's detail of keypair {name!r} does not name it and its owner")
    return dict(detail)
