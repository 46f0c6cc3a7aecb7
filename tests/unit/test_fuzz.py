"""Every route, fuzzed with hypothesis, in front of a stand-in Nova that
answers junk (errors, HTML, empty or wrongly shaped JSON): never a 500,
never a hang, and Nova never gets a path outside the declared templates."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from aiohttp import web
from fuzz import declared_paths, fuzz_settings, requests, send, serving
from hypothesis import given

from vnext_proxy.config import NovaSettings, Settings
from vnext_proxy.mapping.loader import load_mappings
from vnext_proxy.web.app import create_app

MAPPINGS = load_mappings()
DECLARED = declared_paths(MAPPINGS)
JUNK = [
    (404, "application/json", b'{"itemNotFound": {"code": 404, "message": "not here"}}'),
    (200, "text/html", b"<html>not json</html>"),
    (200, "application/json", b"{}"),
    (200, "application/json", b'{"servers": [1, "x"], "flavors": {}, "server": []}'),
    (500, "application/json", b'{"computeFault": {"code": 500, "message": "boom"}}'),
    (409, "application/json", b'{"conflictingRequest": {"code": 409, "message": "' + b"x" * 5000 + b'"}}'),
]


class JunkNova:
    def __init__(self) -> None:
        self.paths: list[str] = []

    async def answer(self, request: web.Request) -> web.Response:
        path = request.raw_path.split("?", 1)[0]
        self.paths.append(path)
        if request.path == "/":
            return web.json_response({"versions": [{"id": "v2.1", "version": "2.104", "min_version": "2.1"}]})
        # Which junk is a function of the request, so runs repeat exactly.
        status, content_type, body = JUNK[hashlib.sha256(request.raw_path.encode()).digest()[0] % len(JUNK)]
        return web.Response(status=status, body=body, content_type=content_type)


def test_fuzzed_requests_never_500_and_reach_only_declared_paths(tmp_path: Path) -> None:
    nova = JunkNova()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", nova.answer)
    with serving() as thread:
        nova_url = thread.serve(app)
        config = Settings(
            nova=NovaSettings(endpoint=nova_url + "/v2.1", request_timeout=5), store_url=f"sqlite:///{tmp_path}/f.db"
        )
        base = thread.serve(create_app(config, MAPPINGS))
        reached_nova = 0

        @fuzz_settings(examples=1000)
        @given(requests(MAPPINGS))
        def one(request: tuple[str, str, Any]) -> None:
            nonlocal reached_nova
            method, path, body = request
            nova.paths.clear()
            resp = send(base, method, path, body, token="fuzz")
            reached_nova += bool(nova.paths)
            assert resp.status_code != 500, (method, path, resp.text[:300])
            assert "Traceback" not in resp.text
            if resp.status_code >= 400 and method != "HEAD":
                assert resp.json()["error"]["code"] == resp.status_code
            strays = [p for p in nova.paths if not DECLARED.fullmatch(p)]
            assert not strays, (method, path, strays)

        one()
        # Not only 400s before Nova: many requests got as far as Nova's junk.
        assert reached_nova > 100
