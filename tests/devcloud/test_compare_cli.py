"""``vnext compare`` and ``vnext-proxy compare``, run as programs against a
real listening proxy in front of devcloud: the side-by-side comparison as
a table, as the proxy's JSON, and its errors."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from fuzz import serving
from users import auth, token

from vnext_proxy.config import NovaSettings, Settings, TaskSettings
from vnext_proxy.devcloud.identities import PROJECT_A
from vnext_proxy.mapping.model import MappingSet
from vnext_proxy.web.app import create_app

#: The installed console scripts (pyproject's [project.scripts]), beside this Python.
VNEXT = Path(sys.executable).parent / "vnext"
VNEXT_PROXY = Path(sys.executable).parent / "vnext-proxy"
MEMBER_A = "alice"
MEMBER_B = "bob"
MV = {"OpenStack-API-Version": "compute 2.100"}
REQUEST_ID = re.compile(r"request id: req-[0-9a-f-]{36}")


def environment(home: Path) -> dict[str, str]:
    """This process's environment without OpenStack's variables, and a home
    with no clouds.yaml: the commands find the proxy from their options only."""
    kept = {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "VNEXT_", "XDG_"))}
    return {**kept, "HOME": str(home)}


@pytest.fixture(scope="module")
def endpoint(devcloud: str, mappings: MappingSet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The proxy, listening on a port of its own, in front of devcloud."""
    for script in (VNEXT, VNEXT_PROXY):
        assert script.exists(), f"{script} is missing: install the package again (make setup)"
    store = tmp_path_factory.mktemp("compare-cli") / "tasks.sqlite3"
    settings = Settings(
        nova=NovaSettings(endpoint=devcloud), store_url=f"sqlite:///{store}", tasks=TaskSettings(poll_interval=0.5)
    )
    with serving() as thread:
        yield thread.serve(create_app(settings, mappings))


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("compare-cli-home")


def run(
    home: Path, script: Path, *argv: str, endpoint: str, user: str | None = MEMBER_A
) -> subprocess.CompletedProcess[str]:
    credentials = ["--endpoint", endpoint, *(["--token", token(user)] if user is not None else [])]
    return subprocess.run(
        [str(script), *argv, *credentials],
        capture_output=True, text=True, timeout=120, env=environment(home), cwd=home,
    )  # fmt: skip


def proxy_json(endpoint: str, path: str, user: str) -> requests.Response:
    return requests.get(endpoint + path, headers=auth(user, {"Accept": "application/json"}), timeout=60)


def compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


@pytest.fixture(scope="module")
def server(boot_server, forget_servers) -> Iterator[str]:  # type: ignore[no-untyped-def]
    server_id: str = boot_server(f"compare-cli-{uuid.uuid4().hex[:6]}")
    try:
        yield server_id
    finally:
        forget_servers([server_id])


def nova_server(nova_as, server_id: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    found: dict[str, Any] = nova_as(MEMBER_A).compute.get(f"/servers/{server_id}", headers=MV).json()["server"]
    return found


def test_the_table_shows_virt_state_beside_novas_vm_state(  # type: ignore[no-untyped-def]
    home: Path, endpoint: str, server: str, nova_as
) -> None:
    nova = nova_server(nova_as, server)
    # By hostname, as a v2.1 script names its servers.
    shown = run(home, VNEXT, "compare", "--server", nova["OS-EXT-SRV-ATTR:hostname"], "--project", PROJECT_A,
                endpoint=endpoint)  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].startswith(f"/servers/{server} beside Nova's server (mappings/servers.yaml")
    assert lines[1].split() == ["VNEXT", "FIELD", "VNEXT", "VALUE", "NOVA", "FIELD(S)", "NOVA", "VALUE", "HOW",
                                "DECLARED", "AT"]  # fmt: skip
    end = lines.index("Nova fields vNext does not show")
    # A line that starts blank goes on the vNext field above it (its next Nova field).
    rows = {line.split()[0]: line.split() for line in lines[3:end] if line.strip() and not line.startswith(" ")}
    vm_state = nova["OS-EXT-STS:vm_state"]
    virt = rows["virt_state"]
    assert virt[1:4] == [compact(vm_state.upper()), "OS-EXT-STS:vm_state", compact(vm_state)]
    assert f"{vm_state} → {vm_state.upper()}" in " ".join(virt)
    assert virt[-1].startswith("mappings/servers.yaml:")
    hostname = nova["OS-EXT-SRV-ATTR:hostname"]
    assert rows["hostname"][1:4] == [compact(hostname), "OS-EXT-SRV-ATTR:hostname", compact(hostname)]
    # Then Nova's fields no vNext field shows, with Nova's values.
    leftovers = [line.split() for line in lines[end:]]
    assert ["status", compact(nova["status"])] in leftovers
    assert ["OS-EXT-STS:vm_state", compact(vm_state)] not in leftovers


def test_json_is_the_proxys_comparison(home: Path, endpoint: str, server: str) -> None:
    shown = run(home, VNEXT, "compare", "--server", server, "-f", "json", endpoint=endpoint)
    assert shown.returncode == 0, shown.stderr
    direct = proxy_json(endpoint, f"/_compare/servers/{server}", MEMBER_A)
    assert direct.status_code == 200, direct.text
    printed, served = json.loads(shown.stdout), direct.json()
    # The Nova calls are each request's own (times, request ids): the same calls, made twice.
    calls = [[(c["method"], c["path"], c["status"]) for c in page.pop("nova_calls")] for page in (printed, served)]
    assert calls[0] == calls[1]
    assert printed == served


def test_vnext_proxy_compare_shows_a_type_by_name_beside_novas_flavor(  # type: ignore[no-untyped-def]
    home: Path, endpoint: str, nova_as
) -> None:
    shown = run(home, VNEXT_PROXY, "compare", "--type", "m1.small", "-f", "json", endpoint=endpoint)
    assert shown.returncode == 0, shown.stderr
    page = json.loads(shown.stdout)
    flavor = next(f for f in nova_as(MEMBER_A).compute.flavors() if f.name == "m1.small")
    assert (page["kind"], page["vnext"]["name"]) == ("server_types", "m1.small")
    (memory,) = [row for row in page["fields"] if row["field"] == "spec.memory_mb"]
    assert (memory["value"], memory["nova_values"]) == (flavor.ram, {"ram": flavor.ram})


def test_another_projects_server_is_the_proxys_404(home: Path, endpoint: str, server: str) -> None:
    refused = run(home, VNEXT, "compare", "--server", server, endpoint=endpoint, user=MEMBER_B)
    assert (refused.returncode, refused.stdout) == (1, "")
    direct = proxy_json(endpoint, f"/_compare/servers/{server}", MEMBER_B)
    assert direct.status_code == 404
    message, request_id = refused.stderr.splitlines()
    assert message == f"error: 404 Not Found: {direct.json()['error']['message']}"
    assert REQUEST_ID.fullmatch(request_id)


def test_an_unknown_task_is_the_proxys_404(home: Path, endpoint: str) -> None:
    missing = str(uuid.uuid4())
    refused = run(home, VNEXT_PROXY, "compare", "--task", missing, endpoint=endpoint)
    assert (refused.returncode, refused.stdout) == (1, "")
    direct = proxy_json(endpoint, f"/_compare/server_tasks/{missing}", MEMBER_A)
    assert direct.status_code == 404
    message, request_id = refused.stderr.splitlines()
    assert message == f"error: 404 Not Found: {direct.json()['error']['message']}"
    assert REQUEST_ID.fullmatch(request_id)


def test_without_a_token_it_says_how_to_give_one(home: Path, endpoint: str, server: str) -> None:
    refused = run(home, VNEXT_PROXY, "compare", "--server", server, endpoint=endpoint, user=None)
    assert (refused.returncode, refused.stdout) == (1, "")
    assert refused.stderr.startswith("error: cannot sign in with the OS_* variables and clouds.yaml")
    assert "give --token (or OS_TOKEN) with --endpoint" in refused.stderr
