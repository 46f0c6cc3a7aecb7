"""What operators meet first: the self-check, against the real Nova and a wrong one."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from aiohttp import web


def run_check(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vnext_proxy", "check", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_against_devcloud(devcloud: str, tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(f"nova:\n  endpoint: {devcloud}\n  microversion: '2.100'\n")
    result = run_check(config)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"ok: Nova's endpoint is {devcloud}" in result.stdout
    assert "ok: Nova offers compute 2.1 to 2.104" in result.stdout


def test_check_says_what_is_wrong(devcloud: str, tmp_path: Path) -> None:
    too_new = tmp_path / "new.yaml"
    too_new.write_text(f"nova:\n  endpoint: {devcloud}\n  microversion: '2.999'\n")
    result = run_check(too_new)
    assert result.returncode == 1
    assert "PROBLEM: Nova offers compute 2.1 to 2.104: it cannot serve 2.999" in result.stdout
    nowhere = tmp_path / "nowhere.yaml"
    nowhere.write_text("nova:\n  endpoint: http://127.0.0.1:9/v2.1\n")
    result = run_check(nowhere)
    assert result.returncode == 1
    assert "PROBLEM: Nova cannot be reached" in result.stdout


async def test_check_knows_nova_from_something_else(aiohttp_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    async def hello(request: web.Request) -> web.Response:
        return web.json_response({"hello": "world"})

    app = web.Application()
    app.router.add_get("/", hello)
    server = await aiohttp_server(app)
    config = tmp_path / "other.yaml"
    config.write_text(f"nova:\n  endpoint: {server.make_url('/v2.1')}\n")
    result = await asyncio.to_thread(run_check, config)
    assert result.returncode == 1
    assert "is not Nova" in result.stdout


def test_check_tries_the_pollers_reads_with_the_service_credentials(
    devcloud: str, keystone: str, tmp_path: Path, boot_server, forget_servers
) -> None:  # type: ignore[no-untyped-def]
    server_id = boot_server("check-reads")  # one server, whose actions the check reads
    try:
        for user, works in (("vnext-service", True), ("alice", False)):
            config = tmp_path / f"{user}.yaml"
            config.write_text(
                f"nova:\n  endpoint: {devcloud}\n"
                f"tasks:\n  service_credentials: {{username: {user}, password: devcloud, project_name: service,"
                f" auth_url: '{keystone}'}}\n"
            )
            result = run_check(config)
            assert f"ok: Keystone signs in the service user '{user}'" in result.stdout, result.stdout
            if works:
                assert result.returncode == 0, result.stdout
                assert "ok: 'vnext-service' may list every project's servers" in result.stdout
                assert "ok: 'vnext-service' may read any server's instance actions" in result.stdout
            else:
                assert result.returncode == 1
                assert (
                    "PROBLEM: 'alice' may not list every project's servers (Nova: 403): give it the admin role"
                    in result.stdout
                )
    finally:
        forget_servers([server_id])
