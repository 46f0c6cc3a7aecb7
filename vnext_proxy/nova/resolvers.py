"""vNext ids back to Nova ids, where that takes a Nova call."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from vnext_proxy.config import Settings
from vnext_proxy.errors import VNextError, from_nova
from vnext_proxy.mapping import engine
from vnext_proxy.mapping.hooks import RenderContext
from vnext_proxy.mapping.model import MappingSet, Selector
from vnext_proxy.nova import operations
from vnext_proxy.nova.client import NovaAnswer

_FLAVORS = operations.FLAVORS(query=(("is_public", "None"),))
_BY_ID_OR_NAME = Selector("type_id", ("id", "name"))


async def resolve_flavor(
    send: Callable[[engine.PlannedCall], Awaitable[NovaAnswer]], mappings: MappingSet, settings: Settings, wanted: str
) -> str:
    """A server type's vNext id (or name) -> its Nova flavor id, by rendering
    the flavors the caller can see exactly as GET /server_types does."""
    answer = await send(_FLAVORS)
    if not answer.ok:
        raise from_nova(answer.status, answer.body)
    ctx = RenderContext(id_namespace=settings.id_namespace)
    flavors = answer.body.get("flavors", [])
    rendered = [engine.render_object(mappings.objects["server_type"], f, ctx) for f in flavors]
    found = engine.select_item(rendered, _BY_ID_OR_NAME, wanted)
    if found is None:
        raise VNextError(400, f"no server type {wanted!r}", field="type_id")
    return str(flavors[rendered.index(found)]["id"])
