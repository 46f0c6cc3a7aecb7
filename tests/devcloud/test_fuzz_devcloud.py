"""Every route, fuzzed with hypothesis, in front of devcloud (the real Nova):
never a 500, never a hang. A fixed budget of examples, derandomized."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fuzz import fuzz_settings, requests, send, serving
from hypothesis import given
from users import token

from vnext_proxy.config import NovaSettings, Settings
from vnext_proxy.mapping.loader import load_mappings
from vnext_proxy.web.app import create_app

MAPPINGS = load_mappings()


def test_fuzzed_requests_against_devcloud_never_500(devcloud: str, tmp_path: Path) -> None:
    config = Settings(nova=NovaSettings(endpoint=devcloud), store_url=f"sqlite:///{tmp_path}/f.db")
    with serving() as thread:
        base = thread.serve(create_app(config, MAPPINGS))

        # devcloud answers about 10 GETs a second: a budget it can take.
        @fuzz_settings(examples=120)
        @given(requests(MAPPINGS))
        def one(request: tuple[str, str, Any]) -> None:
            method, path, body = request
            resp = send(base, method, path, body, token=token("alice"))
            assert resp.status_code != 500, (method, path, resp.text[:300])
            assert "Traceback" not in resp.text

        one()
