"""Nova's own API through the proxy (``nova.passthrough: true``): one endpoint
for both APIs, so a client can move its calls to vNext one at a time and
keep using Nova for what vNext has no resource for (security groups, ...).

Served when enabled:

- ``/v2.1`` and ``/v2.1/{anything}``, any method: Nova's ``/v2.1...``.
- ``GET /compute`` and ``GET /compute/``: Nova's root version list (Nova's
  ``GET /``; the proxy's own ``GET /`` is vNext's JSON-Home).

Requests and answers are streamed, not read whole. Their bodies and headers
pass unchanged, except: hop-by-hop headers (and Host, Expect) are dropped;
X-OpenStack-Request-ID is the proxy's request id both ways, as on vNext
routes (Nova's own id comes back in x-compute-request-id, which Nova sets
as well, and in X-VNext-Backend-Request-Ids). Links and Location headers
in Nova's answers name Nova's own URL, as Nova wrote them: a client must be
configured with the proxy's URL and not follow them to find its endpoint.

The proxy's protections hold here too: a body over limits.max_body_bytes is
refused with 413 (aiohttp's client_max_size does not bound a streamed body),
nova.timeouts bound each call, no cookie is kept between callers, paths
with dot segments are refused (they could reach a neighbour of Nova behind
the same host), and nothing logged here holds a header or a query string.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from vnext_proxy.errors import NovaUnavailable, VNextError
from vnext_proxy.nova.endpoint import EndpointResolver
from vnext_proxy.web.keys import METRICS, SETTINGS
from vnext_proxy.web.middlewares import BACKEND_REQUEST_IDS, REQUEST_ID

log = logging.getLogger(__name__)

#: Where Nova's root version list is served (the proxy's / is JSON-Home).
ROOT_VERSIONS = "/compute"

#: RFC 9110 7.6.1: they describe one connection, not the message.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
#: Not hop-by-hop, but this hop's: aiohttp sets Host for Nova's URL, and
#: answers a client's Expect: 100-continue itself.
_NOT_FORWARDED = HOP_BY_HOP | {"host", "expect"}
#: What aiohttp's client adds to a request unasked: Nova gets only what the
#: caller sent (no default Accept, microversion, User-Agent or encoding).
_NO_AUTO_HEADERS = ("Accept", "Accept-Encoding", "User-Agent", "Content-Type")

_UPSTREAM = web.AppKey("passthrough session", aiohttp.ClientSession)
_RESOLVER = web.AppKey("passthrough endpoint resolver", EndpointResolver)


def add_passthrough_routes(app: web.Application) -> None:
    """Serve Nova's API under /v2.1 and its version list under /compute/."""
    app.cleanup_ctx.append(_upstream_session)
    app.router.add_route("*", "/v2.1", passthrough_handler, name="nova-passthrough")
    app.router.add_route("*", "/v2.1/{tail:.*}", passthrough_handler, name="nova-passthrough-tail")
    app.router.add_get(ROOT_VERSIONS, root_versions_handler, name="nova-versions")
    app.router.add_get(ROOT_VERSIONS + "/", root_versions_handler, name="nova-versions-slash")


async def _upstream_session(app: web.Application) -> AsyncIterator[None]:
    """A session of the passthrough's own: the Nova client's adds a default
    Accept and microversion to every request, and decompresses answers."""
    settings = app[SETTINGS]
    app[_RESOLVER] = EndpointResolver(settings.nova, settings.tasks.service_credentials)
    async with aiohttp.ClientSession(
        # Every request carries its own caller's token: nothing Nova (or a
        # balancer before it) sets as a cookie may reach another caller.
        cookie_jar=aiohttp.DummyCookieJar(),
        # Bytes pass as Nova sent them, Content-Encoding and all.
        auto_decompress=False,
        timeout=aiohttp.ClientTimeout(total=settings.nova.request_timeout, sock_connect=settings.nova.connect_timeout),
    ) as session:
        app[_UPSTREAM] = session
        yield


async def passthrough_handler(request: web.Request) -> web.StreamResponse:
    _refuse_dot_segments(request.path)
    base = await request.app[_RESOLVER].endpoint(request.headers.get("X-Auth-Token"))
    # Nova's endpoint ends in /v2.1 (the resolver's promise); the caller's
    # path, still percent-encoded as sent, replaces that tail.
    head = base.removesuffix("/v2.1")
    return await _relay(request, URL(head + request.rel_url.raw_path_qs, encoded=True))


async def root_versions_handler(request: web.Request) -> web.StreamResponse:
    base = await request.app[_RESOLVER].endpoint(request.headers.get("X-Auth-Token"))
    query = request.rel_url.raw_query_string
    root = base.removesuffix("/v2.1") + "/" + (f"?{query}" if query else "")
    return await _relay(request, URL(root, encoded=True))


def _refuse_dot_segments(path: str) -> None:
    """``/v2.1/../x`` (or %2e%2e, or ..%2F) is sent on as written, and a
    server before Nova may resolve it to a neighbour of Nova's (Keystone,
    Placement on the same host) with the caller's token. Nova has no such
    paths, so they are refused. ``path`` is the decoded one."""
    if any(segment in (".", "..") for segment in path.split("/")):
        raise VNextError(400, "A path to Nova may not have '.' or '..' segments")


async def _relay(request: web.Request, target: URL) -> web.StreamResponse:
    settings = request.app[SETTINGS]
    limit = settings.max_body_bytes
    declared = request.content_length
    if declared is not None and declared > limit:
        raise VNextError(413, f"The request body is {declared} bytes; at most {limit} are accepted")
    skip = _NOT_FORWARDED | _named_in_connection(request.headers)
    headers = CIMultiDict((name, value) for name, value in request.headers.items() if name.lower() not in skip)
    # The proxy's id (the caller's when well-formed), as the Nova client
    # sends it: Nova logs it as the global request id beside its own.
    headers["X-OpenStack-Request-ID"] = request[REQUEST_ID]
    too_large = False

    async def body() -> AsyncIterator[bytes]:
        nonlocal too_large
        sent = 0
        async for chunk in request.content.iter_any():
            sent += len(chunk)
            if sent > limit:
                # Before the chunk goes: Nova never sees more than the limit,
                # and a cut body is never a whole request to it.
                too_large = True
                raise _BodyTooLarge
            yield chunk

    observe = request.app[METRICS].nova_call
    timeout = settings.nova.request_timeout
    try:
        upstream = await request.app[_UPSTREAM].request(
            request.method,
            target,
            headers=headers,
            data=body() if request.body_exists else None,
            skip_auto_headers=_NO_AUTO_HEADERS,
            allow_redirects=False,
        )
    except (aiohttp.ClientError, TimeoutError) as exc:
        if too_large:
            raise VNextError(413, f"The request body is over {limit} bytes; at most {limit} are accepted") from None
        observe(request.method, 0)
        raise _failure(request, exc, timeout) from exc
    observe(request.method, upstream.status)
    try:
        return await _stream_back(request, upstream)
    finally:
        # A no-op once the answer was read whole; otherwise the connection
        # to Nova is closed, never reused with an unread answer on it.
        upstream.close()


async def _stream_back(request: web.Request, upstream: aiohttp.ClientResponse) -> web.StreamResponse:
    response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
    # Content-Length stays: aiohttp frames the answer by it when Nova gave
    # one, and chunks it when Nova did not.
    skip = HOP_BY_HOP | _named_in_connection(upstream.headers)
    for name, value in upstream.headers.items():
        if name.lower() not in skip:
            response.headers.add(name, value)
    # Set before the headers go (request_id_middleware sets them once the
    # handler returns, too late for a prepared answer): as on vNext routes.
    response.headers["X-OpenStack-Request-ID"] = request[REQUEST_ID]
    nova_id = upstream.headers.get("x-openstack-request-id")
    if nova_id:
        # The access log's nova_request_ids, and the header vNext routes give.
        backend_ids: list[str] = request[BACKEND_REQUEST_IDS]
        backend_ids.append(nova_id)
        response.headers["X-VNext-Backend-Request-Ids"] = ",".join(backend_ids)
    try:
        await response.prepare(request)
        async for chunk in _chunks_of(upstream):
            await response.write(chunk)
        await response.write_eof()
    except _AnswerBroke as broke:
        # The status line has gone: the one honest signal left is to cut
        # the connection (the caller sees a short answer), never to write
        # a second answer after this one's headers.
        _cut(request)
        cause = broke.__cause__ or broke
        raise _failure(request, cause, request.app[SETTINGS].nova.request_timeout) from cause
    except asyncio.CancelledError:
        # limits.request_timeout (the timeout middleware answers 503 into
        # the cut connection, where nothing reads it), or shutdown.
        _cut(request)
        raise
    except ConnectionError:
        # Writing to the caller failed: it went away, and nothing is left to tell it.
        _cut(request)
    return response


async def _chunks_of(upstream: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    """Nova's body as it comes; a failure to read it is told apart from
    one to write to the caller."""
    try:
        async for chunk in upstream.content.iter_any():
            yield chunk
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise _AnswerBroke from exc


def _cut(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.close()


class _AnswerBroke(Exception):
    """Nova's answer stopped before its end (a timeout, a dropped connection)."""


class _BodyTooLarge(Exception):
    """Raised in the body's stream to stop it going to Nova."""


def _failure(request: web.Request, exc: BaseException, timeout: float) -> VNextError:
    # The path, never the query string or a header: no token reaches the log.
    log.warning("nova passthrough %s %s failed: %s", request.method, request.path, exc.__class__.__name__)
    if isinstance(exc, TimeoutError):
        return NovaUnavailable(f"Nova did not answer within {timeout:g}s")
    if isinstance(exc, aiohttp.ClientPayloadError):
        return VNextError(502, "Nova's answer broke off")
    return NovaUnavailable("Nova is unreachable")


def _named_in_connection(headers: CIMultiDictProxy[str]) -> frozenset[str]:
    """RFC 9110 7.6.1: headers a Connection header names are hop-by-hop too."""
    names = (name.strip().lower() for value in headers.getall("Connection", []) for name in value.split(","))
    return frozenset(name for name in names if name)
