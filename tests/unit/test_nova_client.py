"""The Nova client at the HTTP boundary (aioresponses; behaviour is proven on devcloud)."""

from __future__ import annotations

import asyncio
import re

import aiohttp
import pytest
from aiohttp import web
from aioresponses import aioresponses

from vnext_proxy.calls import PlannedCall
from vnext_proxy.config import NovaSettings
from vnext_proxy.errors import NovaUnavailable, from_nova
from vnext_proxy.nova.client import NovaClient
from vnext_proxy.nova.endpoint import EndpointResolver

NOVA = "http://nova.test:8774/v2.1"
SETTINGS = NovaSettings(endpoint=NOVA, microversion="2.61", request_timeout=2)
CALL = PlannedCall("nova", "GET", "/flavors/detail", (("limit", "2"),))


@pytest.fixture
async def client() -> NovaClient:
    async with NovaClient(SETTINGS, EndpointResolver(SETTINGS)) as nova:
        yield nova


async def test_sends_token_microversion_and_request_id(aiohttp_server) -> None:  # type: ignore[no-untyped-def]
    # aioresponses 0.7.9 cannot build responses for aiohttp 3.14 (it misses
    # ClientResponse's new stream_writer argument), so answers come from a
    # small in-process fake Nova; aioresponses still injects failures below.
    seen: list[web.Request] = []

    async def flavors(request: web.Request) -> web.Response:
        seen.append(request)
        return web.json_response({"flavors": []}, headers={"x-openstack-request-id": "req-nova"})

    app = web.Application()
    app.router.add_get("/v2.1/flavors/detail", flavors)
    server = await aiohttp_server(app)
    settings = NovaSettings(endpoint=str(server.make_url("/v2.1")), microversion="2.61")
    async with NovaClient(settings, EndpointResolver(settings)) as client:
        answer = await client.send(CALL, token="tok", request_id="req-caller")
    assert answer.status == 200
    assert answer.body == {"flavors": []}
    assert answer.request_id == "req-nova"
    (sent,) = seen
    assert sent.headers["X-Auth-Token"] == "tok"
    assert sent.headers["OpenStack-API-Version"] == "compute 2.61"
    assert sent.headers["X-OpenStack-Request-ID"] == "req-caller"
    assert sent.query["limit"] == "2"


async def test_unreachable_nova_is_503_with_retry_after(client: NovaClient) -> None:
    with aioresponses() as mocked:
        mocked.get(re.compile(".*"), exception=aiohttp.ClientConnectionError("refused"), repeat=True)
        with pytest.raises(NovaUnavailable) as info:
            await client.send(CALL, token="tok")
    assert info.value.status == 503
    assert info.value.headers["Retry-After"]


async def test_slow_nova_is_503(client: NovaClient) -> None:
    with aioresponses() as mocked:
        mocked.get(re.compile(".*"), exception=TimeoutError(), repeat=True)
        with pytest.raises(NovaUnavailable, match="did not answer within 2s"):
            await client.send(CALL, token="tok")


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (404, {"itemNotFound": {"code": 404, "message": "Flavor 9 could not be found."}}, 404),
        (409, {"conflictingRequest": {"code": 409, "message": "locked"}}, 409),
        (500, {"computeFault": {"code": 500, "message": "Unexpected API Error."}}, 502),
        (503, "Service Unavailable", 503),
    ],
)
def test_nova_errors_map_to_vnext_errors(status: int, body: object, expected: int) -> None:
    error = from_nova(status, body)
    assert error.status == expected
    if isinstance(body, dict):
        assert next(iter(body.values()))["message"] in error.message


async def test_a_get_is_retried_once_a_write_never(aiohttp_server) -> None:  # type: ignore[no-untyped-def]
    calls: list[str] = []

    async def slow_first(request: web.Request) -> web.Response:
        calls.append(request.method)
        if len(calls) == 1:
            await asyncio.sleep(2)
        return web.json_response({"flavors": []})

    app = web.Application()
    app.router.add_route("*", "/v2.1/flavors/detail", slow_first)
    server = await aiohttp_server(app)
    settings = NovaSettings(endpoint=str(server.make_url("/v2.1")), request_timeout=0.3)
    async with NovaClient(settings, EndpointResolver(settings)) as client:
        answer = await client.send(CALL, token="tok")
        assert answer.status == 200
        assert calls == ["GET", "GET"]
        calls.clear()
        with pytest.raises(NovaUnavailable):
            await client.send(PlannedCall("nova", "POST", "/flavors/detail", body={}), token="tok")
        assert calls == ["POST"]
