"""Nova's own API through the proxy (nova.passthrough), against a recording
stand-in of Nova: what Nova is sent and what the caller gets back are the
same bytes, and the proxy's limits hold on the way."""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from multidict import CIMultiDictProxy
from yarl import URL

from vnext_proxy.config import NovaSettings, Settings, load_settings, parse_settings
from vnext_proxy.mapping.model import MappingSet
from vnext_proxy.web.app import create_app
from vnext_proxy.yamlsource import InputError

SECRET = "secret-token-0123456789"
NOVA_ID = "req-11111111-2222-4333-8444-555555555555"
VERSION_LIST = {"versions": [{"id": "v2.1", "status": "CURRENT", "version": "2.104", "min_version": "2.1"}]}


@dataclass
class Seen:
    method: str
    raw_path: str
    headers: CIMultiDictProxy[str]
    body: bytes
    whole: bool
    #: The stand-in has read all it will of the body (or lost the connection).
    ended: bool = False


@dataclass
class StandIn:
    """Nova, recording each request as it arrived, answering as a test says."""

    url: str = ""
    seen: list[Seen] = field(default_factory=list)
    #: Set to let a stalled answer go on.
    release: asyncio.Event = field(default_factory=asyncio.Event)


async def start_stand_in(aiohttp_server) -> StandIn:  # type: ignore[no-untyped-def]
    nova = StandIn()

    async def anything(request: web.Request) -> web.StreamResponse:
        seen = Seen(request.method, request.raw_path, request.headers, b"", whole=False)
        nova.seen.append(seen)
        # Chunk by chunk, so a cut body still shows what came of it.
        try:
            async for chunk in request.content.iter_any():
                seen.body += chunk
        finally:
            seen.whole = request.content.is_eof()
            seen.ended = True
        path = request.path
        if path == "/":
            return web.json_response(VERSION_LIST)
        if path == "/v2.1/echo":
            # Answers what it was sent, with Nova's headers and a link to itself.
            headers = {
                "x-openstack-request-id": NOVA_ID,
                "x-compute-request-id": NOVA_ID,
                "OpenStack-API-Version": "compute 2.100",
                "Location": f"{nova.url}/v2.1/servers/abc",
                "Connection": "keep-alive, X-Hop",
                "X-Hop": "per-connection",
                "Set-Cookie": "balancer=alice-s-backend",
            }
            resp = web.Response(status=201, body=seen.body, headers=headers, content_type="application/octet-stream")
            resp.headers.add("Vary", "OpenStack-API-Version")
            resp.headers.add("Vary", "X-OpenStack-Nova-API-Version")
            return resp
        if path == "/v2.1/empty":
            return web.Response(status=204, headers={"x-openstack-request-id": NOVA_ID})
        if path == "/v2.1/gzip":
            packed = gzip.compress(b'{"servers": []}')
            return web.Response(body=packed, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})
        if path == "/v2.1/slow":
            await asyncio.sleep(10)
            return web.json_response({})
        if path in ("/v2.1/stream", "/v2.1/break", "/v2.1/drop"):
            # The first part, then the rest once released (or never: /break
            # stalls, /drop hangs up).
            resp = web.StreamResponse(headers={"Content-Type": "application/json"})
            await resp.prepare(request)
            await resp.write(b'{"part": 1')
            if path == "/v2.1/break":
                await asyncio.sleep(10)
            if path == "/v2.1/drop" and request.transport is not None:
                await asyncio.sleep(0.1)
                request.transport.close()
                return resp
            await nova.release.wait()
            await resp.write(b', "part2": 2}')
            await resp.write_eof()
            return resp
        return web.json_response({"path": path}, headers={"x-openstack-request-id": NOVA_ID})

    app = web.Application(client_max_size=64 * 2**20)
    app.router.add_route("*", "/{tail:.*}", anything)
    server = await aiohttp_server(app)
    nova.url = str(server.make_url("")).rstrip("/")
    return nova


async def proxy_for(  # type: ignore[no-untyped-def]
    aiohttp_client,
    nova: StandIn | str,
    mappings: MappingSet,
    tmp_path: Path,
    passthrough: bool = True,
    nova_timeout: float = NovaSettings.request_timeout,
    **changes,
) -> TestClient:
    """The proxy in front of ``nova``; ``changes`` are Settings', ``nova_timeout`` is nova.timeouts.request."""
    endpoint = (nova.url if isinstance(nova, StandIn) else nova) + "/v2.1"
    settings = Settings(
        nova=NovaSettings(endpoint=endpoint, passthrough=passthrough, request_timeout=nova_timeout),
        store_url=f"sqlite:///{tmp_path}/t.sqlite3",
    )
    client: TestClient = await aiohttp_client(create_app(dataclasses.replace(settings, **changes), mappings))
    return client


@pytest.fixture
async def nova(aiohttp_server) -> StandIn:  # type: ignore[no-untyped-def]
    return await start_stand_in(aiohttp_server)


@pytest.fixture
async def proxy(aiohttp_client, nova: StandIn, mappings: MappingSet, tmp_path: Path) -> TestClient:  # type: ignore[no-untyped-def]
    return await proxy_for(aiohttp_client, nova, mappings, tmp_path, max_body_bytes=4096)


def test_the_setting_is_off_unless_set() -> None:
    example = Path(__file__).resolve().parents[2] / "config.example.yaml"
    assert "  passthrough: false\n" in example.read_text()
    assert load_settings(example).nova.passthrough is False
    base = "nova:\n  endpoint: http://nova:8774/v2.1\n"
    assert parse_settings(base).nova.passthrough is False
    assert parse_settings(base + "  passthrough: true\n").nova.passthrough is True
    with pytest.raises(InputError) as refused:
        parse_settings(base + "  passthrough: yes please\n", "my.yaml")
    assert "nova.passthrough" in str(refused.value)


async def test_off_v2_1_is_the_vnext_404(aiohttp_client, nova: StandIn, mappings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    proxy = await proxy_for(aiohttp_client, nova, mappings, tmp_path, passthrough=False)
    for path in ("/v2.1/servers", "/v2.1", "/compute/"):
        resp = await proxy.get(path, headers={"X-Auth-Token": SECRET})
        assert resp.status == 404
        error = (await resp.json())["error"]
        assert error["code"] == 404
        assert error["message"] == "No such route in the vNext API; GET / lists them all"
    assert nova.seen == []


async def test_a_post_goes_to_nova_byte_for_byte_and_back(proxy: TestClient, nova: StandIn) -> None:
    # Not even JSON: the passthrough reads no body, it moves bytes.
    body = bytes(range(256)) * 10
    # Built encoded: yarl would otherwise decode the %2F before it is sent.
    target = URL(str(proxy.make_url("/v2.1/echo")) + "?marker=a%2Fb&name=x+y&name=%C3%A9", encoded=True)
    resp = await proxy.session.post(
        target,
        data=body,
        headers={
            "X-Auth-Token": SECRET,
            "Content-Type": "application/json",
            "OpenStack-API-Version": "compute 2.79",
            "X-Caller-Header": "kept",
            "Connection": "keep-alive, X-Caller-Hop",
            "X-Caller-Hop": "dropped",
            "Cookie": "mine=1",
        },
    )
    assert resp.status == 201
    assert await resp.read() == body
    (seen,) = nova.seen
    assert (seen.method, seen.body, seen.whole) == ("POST", body, True)
    # The path and query exactly as sent, still percent-encoded.
    assert seen.raw_path == "/v2.1/echo?marker=a%2Fb&name=x+y&name=%C3%A9"
    assert seen.headers["X-Auth-Token"] == SECRET
    assert seen.headers["OpenStack-API-Version"] == "compute 2.79"
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.headers["Content-Length"] == str(len(body))
    assert seen.headers["X-Caller-Header"] == "kept"
    assert seen.headers["Cookie"] == "mine=1"
    # Hop-by-hop headers are this hop's, and so is one the Connection header names.
    assert "X-Caller-Hop" not in seen.headers
    assert "Transfer-Encoding" not in seen.headers
    assert seen.headers["Host"] == nova.url.removeprefix("http://")
    # Nova's answer: its headers as it sent them, both Vary lines, its
    # Location naming Nova itself (never rewritten).
    assert resp.headers["Location"] == f"{nova.url}/v2.1/servers/abc"
    assert resp.headers["OpenStack-API-Version"] == "compute 2.100"
    assert resp.headers.getall("Vary") == ["OpenStack-API-Version", "X-OpenStack-Nova-API-Version"]
    assert resp.headers["x-compute-request-id"] == NOVA_ID
    assert resp.headers["Set-Cookie"] == "balancer=alice-s-backend"
    assert "X-Hop" not in resp.headers


async def test_nothing_is_added_to_what_the_caller_sent(proxy: TestClient, nova: StandIn) -> None:
    """No default Accept, microversion, User-Agent or Accept-Encoding: a
    request without a microversion is Nova's 2.1, as it would be direct."""
    resp = await proxy.get(
        "/v2.1/servers", skip_auto_headers=("Accept", "Accept-Encoding", "User-Agent"), headers={"X-Auth-Token": SECRET}
    )
    assert resp.status == 200
    (seen,) = nova.seen
    for name in ("Accept", "Accept-Encoding", "User-Agent", "OpenStack-API-Version", "Content-Type", "Cookie"):
        assert name not in seen.headers, name
    assert "Content-Length" not in seen.headers
    assert "Transfer-Encoding" not in seen.headers
    assert seen.body == b""


async def test_answers_without_a_body(proxy: TestClient, nova: StandIn) -> None:
    deleted = await asyncio.wait_for(proxy.delete("/v2.1/empty", headers={"X-Auth-Token": SECRET}), 5)
    assert deleted.status == 204
    assert await deleted.read() == b""
    # HEAD: Nova's headers, its length among them, and no body.
    head = await asyncio.wait_for(proxy.head("/v2.1/echo", headers={"X-Auth-Token": SECRET}), 5)
    assert head.status == 201
    assert head.headers["Location"] == f"{nova.url}/v2.1/servers/abc"
    assert await head.read() == b""
    assert [seen.method for seen in nova.seen] == ["DELETE", "HEAD"]
    # The connection is still sound for the next request.
    assert (await proxy.get("/v2.1/servers", headers={"X-Auth-Token": SECRET})).status == 200


async def test_a_chunked_body_goes_chunked_and_whole(proxy: TestClient, nova: StandIn) -> None:
    async def parts() -> AsyncIterator[bytes]:
        for part in (b'{"keypair": ', b'{"name": "k"}', b"}"):
            yield part

    resp = await proxy.put("/v2.1/echo", data=parts(), headers={"X-Auth-Token": SECRET})
    assert resp.status == 201
    assert await resp.read() == b'{"keypair": {"name": "k"}}'
    (seen,) = nova.seen
    assert seen.body == b'{"keypair": {"name": "k"}}'
    assert seen.headers["Transfer-Encoding"] == "chunked"


async def test_a_compressed_answer_passes_compressed(proxy: TestClient, nova: StandIn) -> None:
    async with proxy.session.get(
        proxy.make_url("/v2.1/gzip"), headers={"X-Auth-Token": SECRET, "Accept-Encoding": "gzip"}, auto_decompress=False
    ) as resp:
        # Bounded: a proxy that decompressed would send more than the length it declares.
        raw = await asyncio.wait_for(resp.read(), 5)
        assert resp.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(raw) == b'{"servers": []}'
    assert nova.seen[0].headers["Accept-Encoding"] == "gzip"


async def test_the_answer_is_streamed_not_gathered(proxy: TestClient, nova: StandIn) -> None:
    resp = await proxy.get("/v2.1/stream", headers={"X-Auth-Token": SECRET})
    assert resp.status == 200
    # Nova has sent only its first part: the caller has it already.
    first = await asyncio.wait_for(resp.content.readany(), 5)
    assert first == b'{"part": 1'
    nova.release.set()
    assert first + await resp.read() == b'{"part": 1, "part2": 2}'


async def test_a_body_over_the_limit_is_413_and_nova_never_gets_it(proxy: TestClient, nova: StandIn) -> None:
    big = b"x" * 5000
    resp = await proxy.post("/v2.1/echo", data=big, headers={"X-Auth-Token": SECRET})
    assert resp.status == 413
    error = (await resp.json())["error"]
    assert (error["code"], error["message"]) == (413, "The request body is 5000 bytes; at most 4096 are accepted")
    assert nova.seen == []

    # Chunked, no length given: counted as it streams, cut before the limit.
    async def parts() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"y" * 1000
            await asyncio.sleep(0.01)

    resp = await proxy.post("/v2.1/echo", data=parts(), headers={"X-Auth-Token": SECRET})
    assert resp.status == 413
    assert (await resp.json())["error"]["message"] == "The request body is over 4096 bytes; at most 4096 are accepted"
    # Nova saw a cut body, never a whole request to act on, and no more
    # than the limit (four of the ten parts).
    async with asyncio.timeout(10):  # the stand-in learns its connection has gone
        while not nova.seen or not nova.seen[0].ended:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    (seen,) = nova.seen
    assert not seen.whole
    assert len(seen.body) <= 4096
    # The next request is served as usual.
    assert (await proxy.get("/v2.1/servers", headers={"X-Auth-Token": SECRET})).status == 200


async def test_request_ids_as_on_vnext_routes(proxy: TestClient, nova: StandIn) -> None:
    mine = f"req-{uuid.uuid4()}"
    resp = await proxy.get("/v2.1/servers", headers={"X-Auth-Token": SECRET, "X-OpenStack-Request-ID": mine})
    assert resp.headers["X-OpenStack-Request-ID"] == mine
    assert resp.headers["X-VNext-Backend-Request-Ids"] == NOVA_ID
    # Nova is sent it as the global request id, as by the Nova client.
    assert nova.seen[0].headers["X-OpenStack-Request-ID"] == mine
    made = await proxy.get("/v2.1/servers", headers={"X-Auth-Token": SECRET, "X-OpenStack-Request-ID": "junk"})
    made_id = made.headers["X-OpenStack-Request-ID"]
    assert made_id.startswith("req-")
    assert made_id != mine
    assert nova.seen[1].headers["X-OpenStack-Request-ID"] == made_id


async def test_no_cookie_passes_between_callers(aiohttp_client, nova: StandIn, mappings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # By name: a cookie jar would keep no cookie of an IP address's anyway.
    by_name = nova.url.replace("127.0.0.1", "localhost")
    proxy = await proxy_for(aiohttp_client, by_name, mappings, tmp_path)
    first = await proxy.post("/v2.1/echo", data=b"{}", headers={"X-Auth-Token": SECRET})
    assert first.headers["Set-Cookie"] == "balancer=alice-s-backend"
    proxy.session.cookie_jar.clear()
    await proxy.get("/v2.1/servers", headers={"X-Auth-Token": "another-caller"})
    assert "Cookie" not in nova.seen[1].headers


async def test_versions_root_and_v2_1(proxy: TestClient, nova: StandIn) -> None:
    for path in ("/compute/", "/compute"):
        resp = await proxy.get(path)
        assert resp.status == 200
        assert await resp.json() == VERSION_LIST
    for path in ("/v2.1", "/v2.1/"):
        resp = await proxy.get(path)
        assert resp.status == 200
    assert [s.raw_path for s in nova.seen] == ["/", "/", "/v2.1", "/v2.1/"]
    # JSON-Home stays the proxy's.
    home = await proxy.get("/")
    assert home.content_type == "application/json-home"
    assert len(nova.seen) == 4


@pytest.mark.parametrize(
    "path", ["/v2.1/../identity/v3", "/v2.1/%2e%2e/identity", "/v2.1/servers%2F..%2F..%2Fadmin", "/v2.1/./servers"]
)
async def test_dot_segments_are_refused_before_nova(proxy: TestClient, nova: StandIn, path: str) -> None:
    # Built encoded: yarl would otherwise resolve the dots before they are sent.
    resp = await proxy.session.get(URL(str(proxy.make_url("")) + path, encoded=True), headers={"X-Auth-Token": SECRET})
    assert resp.status == 400
    assert (await resp.json())["error"]["message"] == "A path to Nova may not have '.' or '..' segments"
    assert nova.seen == []


async def test_nova_slow_to_answer_is_503_within_its_timeout(  # type: ignore[no-untyped-def]
    aiohttp_client, nova: StandIn, mappings, tmp_path
) -> None:
    proxy = await proxy_for(aiohttp_client, nova, mappings, tmp_path, nova_timeout=0.5)
    started = time.monotonic()
    resp = await proxy.get("/v2.1/slow", headers={"X-Auth-Token": SECRET})
    assert time.monotonic() - started < 8  # the stand-in holds its answer 10 s
    assert resp.status == 503
    assert resp.headers["Retry-After"] == "5"
    assert (await resp.json())["error"]["message"] == "Nova did not answer within 0.5s"


@pytest.mark.parametrize(
    ("path", "deadline"), [("/v2.1/break", "nova_timeout"), ("/v2.1/break", "request_timeout"), ("/v2.1/drop", None)]
)
async def test_an_answer_that_stops_midway_is_cut_not_followed_by_another(  # type: ignore[no-untyped-def]
    aiohttp_client, nova: StandIn, mappings, tmp_path, path: str, deadline: str | None
) -> None:
    """Whichever deadline passes (nova.timeouts.request for the Nova call,
    limits.request_timeout for the whole request), or if Nova hangs up, once
    the status line has gone the connection is cut."""
    proxy = await proxy_for(aiohttp_client, nova, mappings, tmp_path, **({deadline: 0.5} if deadline else {}))
    resp = await proxy.get(path, headers={"X-Auth-Token": SECRET})
    assert resp.status == 200
    with pytest.raises(aiohttp.ClientPayloadError):
        # Cut at once, not left hanging (or followed by a second answer).
        await asyncio.wait_for(resp.read(), 5)
    # Still serving.
    assert (await proxy.get("/v2.1/servers", headers={"X-Auth-Token": SECRET})).status == 200


async def test_nova_unreachable_is_503(aiohttp_client, mappings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    proxy = await proxy_for(aiohttp_client, "http://127.0.0.1:9", mappings, tmp_path)
    resp = await proxy.get("/v2.1/servers", headers={"X-Auth-Token": SECRET})
    assert resp.status == 503
    assert (await resp.json())["error"]["message"] == "Nova is unreachable"


async def test_logged_and_counted_as_any_route_never_with_the_token(
    proxy: TestClient, nova: StandIn, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        await proxy.get("/v2.1/servers?limit=1", headers={"X-Auth-Token": SECRET})
        await proxy.post("/v2.1/echo", data=b"x" * 5000, headers={"X-Auth-Token": SECRET})
    lines: list[dict[str, Any]] = [json.loads(r.getMessage()) for r in caplog.records if r.name == "vnext_proxy.access"]
    assert [(line["route"], line["status"]) for line in lines] == [("/v2.1/{tail}", 200), ("/v2.1/{tail}", 413)]
    assert lines[0]["nova_request_ids"] == [NOVA_ID]
    assert SECRET not in caplog.text
    metrics = await (await proxy.get("/metrics")).text()
    assert 'vnext_requests_total{method="GET",route="/v2.1/{tail}",status="200"} 1.0' in metrics
    assert 'vnext_nova_calls_total{method="GET",status="200"} 1.0' in metrics
