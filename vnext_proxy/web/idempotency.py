"""Idempotency-Key for the POSTs that make things happen in Nova (a task, a
launch): a client that retries after a lost answer gets the first answer,
and Nova is asked once.

The key is the caller's, scoped to their user (as Keystone says, when the
config names Keystone; else to their token) and the route: another
caller's key never matches. Keys live in the store, so replicas share them,
for a day. A retry with the same key and another body is 422; one that
comes while the first is still being served is 409 with Retry-After.
"""

from __future__ import annotations

import hashlib
import re

from aiohttp import web

from vnext_proxy.errors import VNextError
from vnext_proxy.nova.caller import token_digest
from vnext_proxy.stores import KeptAnswer
from vnext_proxy.web.edge import Handler, caller_token
from vnext_proxy.web.keys import OWNERS, STORE

HEADER = "Idempotency-Key"
#: How long a key's first answer is kept, as payment APIs and GCE's requestId do.
KEPT_SECONDS = 24 * 3600
_VALID_KEY = re.compile(r"[\x21-\x7e]{1,255}")
#: The first answer's headers a replay gives again.
_REPLAYED_HEADERS = ("Location", "Content-Type")


def idempotent(handler: Handler) -> Handler:
    async def guarded(request: web.Request) -> web.StreamResponse:
        key = request.headers.get(HEADER)
        if key is None:
            return await handler(request)
        if not _VALID_KEY.fullmatch(key):
            raise VNextError(400, f"{HEADER} must be 1 to 255 visible ASCII characters", field=HEADER)
        token = caller_token(request)
        # The caller is their user where Keystone says who that is (a retry
        # may come with a token issued since), else their token.
        caller = await request.app[OWNERS].user_id(token) or f"token:{token_digest(token)}"
        scope = _sha256(f"{caller}\n{request.method} {request.path}\n{key}".encode())
        body_sha256 = _sha256(await request.read())
        store = request.app[STORE]
        kept = await store.claim_key(scope, body_sha256, KEPT_SECONDS)
        if kept is not None:
            return _replay(kept, body_sha256)
        try:
            response = await handler(request)
        except BaseException:
            await store.release_key(scope)
            raise
        body = getattr(response, "body", None)
        if 200 <= response.status < 300 and isinstance(body, bytes):
            headers = {h: response.headers[h] for h in _REPLAYED_HEADERS if h in response.headers}
            await store.keep_answer(scope, response.status, body, headers)
        else:
            await store.release_key(scope)
        return response

    return guarded


def _replay(kept: KeptAnswer, body_sha256: str) -> web.StreamResponse:
    if kept.body_sha256 != body_sha256:
        raise VNextError(422, f"this {HEADER} was used with another body: use a new key", field=HEADER)
    if kept.status is None:
        raise VNextError(
            409, f"the first request with this {HEADER} is still being served", headers={"Retry-After": "1"}
        )
    return web.Response(status=kept.status, body=kept.body, headers={**kept.headers, "Idempotent-Replayed": "true"})


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
