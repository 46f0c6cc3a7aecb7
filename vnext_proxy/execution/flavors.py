"""A server type's vNext id (or name) back to its Nova flavor id."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from cachetools import LRUCache

from vnext_proxy.calls import Send
from vnext_proxy.errors import VNextError, from_nova, shown
from vnext_proxy.mapping.ids import vnext_id
from vnext_proxy.nova import operations as ops

#: Every flavor the caller may see, private ones included.
_FLAVORS = ops.FLAVORS(query=(("is_public", "None"),))


class FlavorIds:
    """A server type's id is its flavor's id, or a UUIDv5 of it (the mapping's
    ``translate: flavor``): it stands for one Nova flavor forever, so the
    way back is kept, for every caller, as flavors are seen. Keeping it
    reveals nothing: Nova still checks the caller may see the flavor on the
    call the id is used in. A wanted id missing from the map, and any name
    (a name may be given to another flavor later), is looked up in the
    flavor list the caller sees, which refreshes the map."""

    def __init__(self, id_namespace: uuid.UUID, maxsize: int = 10_000) -> None:
        self._namespace = id_namespace
        self._nova_ids: LRUCache[str, str] = LRUCache(maxsize=maxsize)

    def vnext_id(self, flavor: Mapping[str, Any]) -> str:
        return str(vnext_id(self._namespace, "flavor", flavor["id"]))

    def learn(self, flavors: Iterable[Mapping[str, Any]]) -> dict[str, str]:
        """Keep the ids of these flavors; their vNext ids and names -> Nova ids."""
        found: dict[str, str] = {}
        for flavor in flavors:
            nova_id = str(flavor["id"])
            self._nova_ids[self.vnext_id(flavor)] = nova_id
            found[self.vnext_id(flavor)] = found[str(flavor.get("name"))] = nova_id
        return found

    async def resolve(self, wanted: str, send: Send) -> str:
        """The Nova flavor id of the server type ``wanted`` (an id or a name);
        404 when the caller sees no such server type."""
        kept = self._nova_ids.get(wanted)
        if kept is not None:
            return kept
        answer = await send(_FLAVORS)
        if not answer.ok:
            raise from_nova(answer.status, answer.body)
        # An id wins over a name, as in GET /server_types/{id}.
        found = self.learn(answer.part("flavors", kind=list))
        for flavor in answer.part("flavors", kind=list):
            if self.vnext_id(flavor) == wanted:
                return str(flavor["id"])
        if wanted in found:
            return found[wanted]
        raise VNextError(404, f"No server type {shown(wanted)}, or it is not yours")
