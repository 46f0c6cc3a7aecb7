"""Whether a caller may see a project: Nova's project policy, asked once per
token and project for a short while."""

from __future__ import annotations

from cachetools import TTLCache

from vnext_proxy.calls import Send
from vnext_proxy.errors import VNextError, from_nova
from vnext_proxy.nova import operations as ops
from vnext_proxy.nova.caller import token_digest

_NOT_YOURS = "Not found, or not yours"


class ProjectAccess:
    """Nova has no project resource; its usage report is readable by the
    project's members and by admins only (``ops.PROJECT_OWNERSHIP``), so it
    answers the question without reading any usage. The answer, yes or no,
    is kept per token digest and project for ``ttl`` seconds: a project's
    routes then cost one Nova call, not two. A role taken away takes effect
    within ``ttl``."""

    def __init__(self, ttl: float = 30.0, maxsize: int = 10_000) -> None:
        self._known: TTLCache[tuple[str, str], bool] = TTLCache(maxsize=maxsize, ttl=ttl)

    async def require(self, project: str, token: str, send: Send) -> None:
        """404 unless the caller may read ``project``."""
        key = (token_digest(token), project)
        visible = self._known.get(key)
        if visible is None:
            answer = await send(ops.PROJECT_OWNERSHIP(project_id=project))
            if answer.status in (403, 404):
                visible = False
            elif answer.ok:
                visible = True
            else:
                raise from_nova(answer.status, answer.body)  # not an answer to keep
            self._known[key] = visible
        if not visible:
            raise VNextError(404, _NOT_YOURS)
