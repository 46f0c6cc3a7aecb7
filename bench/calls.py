"""How many Nova calls the proxy makes for each vNext read.

Every GET and HEAD route of the loaded mappings, against devcloud (the real
Nova), each asked twice in a row with the same token, on a proxy started
afresh for that route: the first answer shows what a caller new to the proxy
costs, the second what the per-token caches save. The calls are counted from
the proxy's explain record (explain: true, and X-VNext-Explain: 1 on the
request): ``_explain.nova_calls`` in a JSON object answer, the X-VNext-Explain
header otherwise. An answer without the record (an error answer) shows "?":
a member reading what Nova's policy keeps for admins (a server type's
shares, a server's diagnostics) gets 403; --token devcloud-admin counts those.
Routes the mappings declare not_applicable are listed as skipped: the proxy
answers them without Nova.

Before reading, it makes through the proxy (as ``vnext-proxy demo`` does)
what the routes need real ids of: a private server type shared with the
reader's project, a server group, and a server launched with its CREATE task.

Aim: one Nova call wherever one Nova call can answer. Starting devcloud takes
about a minute; the reads themselves are a few dozen GETs.

    .venv/bin/python bench/calls.py [--token devcloud-member-a] [--first]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from vnext_proxy.config import NovaSettings, Settings, TaskSettings
from vnext_proxy.devcloud.identities import PROJECT_A
from vnext_proxy.devcloud.process import DevCloudProcess
from vnext_proxy.mapping.loader import load_mappings
from vnext_proxy.mapping.model import MappingSet, Route
from vnext_proxy.web.app import create_app

ADMIN_TOKEN = "devcloud-admin"
#: Makes the server, the group and the task (in PROJECT_A), whoever reads.
OWNER_TOKEN = "devcloud-member-a"
IMAGE = "155d900f-4e14-4e4c-a73d-069cbf4541e6"  # devcloud's first image
MV = {"OpenStack-API-Version": "compute 2.100"}
PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBmqrTPzc3bR1D1hvPhTVRWLexGkg1Ez/3y4fW6xK4Mm calls"
#: Path variables that are a word, not an id of something made here.
FIXED = {"object": "server", "type": "novnc"}
#: devcloud serves about 10 GETs a second: poll it once a second at most.
POLL_SECONDS = 1.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Proxy:
    """The proxy at ``base``, asked with one token."""

    def __init__(self, session: aiohttp.ClientSession, base: str, token: str) -> None:
        self.session = session
        self.base = base
        self.headers = {"X-Auth-Token": token}

    async def call(self, method: str, path: str, body: Any = None, explain: bool = False) -> tuple[int, Any, Any]:
        """(status, decoded body or None, the explain record's Nova calls or None)."""
        headers = {**self.headers, **({"X-VNext-Explain": "1"} if explain else {})}
        async with self.session.request(method, self.base + path, json=body, headers=headers) as resp:
            raw = await resp.read()
            header = resp.headers.get("X-VNext-Explain")
            status = resp.status
        decoded: Any = None
        if raw:
            try:
                decoded = json.loads(raw)
            except ValueError:
                decoded = None
        calls: Any = None
        if isinstance(decoded, dict) and isinstance(decoded.get("_explain"), dict):
            calls = decoded["_explain"].get("nova_calls")
        elif header is not None:
            calls = json.loads(header)
        return status, decoded, calls

    async def ok(self, method: str, path: str, body: Any = None) -> Any:
        status, decoded, _ = await self.call(method, path, body)
        if status >= 300:
            raise RuntimeError(f"{method} {path}: {status} {decoded}")
        return decoded


async def make_things(proxy: Proxy, admin: Proxy, nova: str, session: aiohttp.ClientSession) -> dict[str, str]:
    """Make what the routes need ids of, as ``proxy``'s caller (a member of
    PROJECT_A) and ``admin``; the value of every path variable."""
    tag = uuid.uuid4().hex[:6]
    values = dict(FIXED, project=PROJECT_A)
    # A private server type, tagged and shared with the reader's project.
    server_type = {
        "name": f"calls.{tag}",
        "spec": {"memory_mb": 512, "root_disk_gb": 1, "cpu_units": 1},
        "visibility": "PRIVATE",
        "tags": ["bench"],
        "shares": {"projects": [PROJECT_A]},
    }
    values["server_type"] = (await admin.ok("POST", "/server_types", server_type))["id"]
    group = await proxy.ok("POST", f"/projects/{PROJECT_A}/server_groups", {"name": f"calls {tag}"})
    values["group_id"], values["slug"] = group["id"], group["slug"]
    placements = (await proxy.ok("GET", "/placements"))["placements"]
    if placements:
        values["placement"] = placements[0]["id"]
    # Neither spec revision can make a keypair: it is made on Nova, as the demo does.
    key = {"keypair": {"name": f"calls-{tag}", "public_key": PUBLIC_KEY}}
    async with session.post(f"{nova}/os-keypairs", json=key, headers={**proxy.headers, **MV}) as resp:
        if resp.status >= 300:
            raise RuntimeError(f"keypair: {resp.status} {await resp.text()}")
    values["keypair"] = (await proxy.ok("GET", f"/keypairs/calls-{tag}"))["id"]
    tiny = (await proxy.ok("GET", "/server_types/m1.tiny"))["id"]
    launch = {
        "defaults": {
            "type_id": tiny,
            "template_id": IMAGE,
            "keypair_id": values["keypair"],
        },
        "servers": [{"hostname": f"calls-{tag}"}],
    }
    launched = (await proxy.ok("POST", f"/projects/{PROJECT_A}/servers", launch))[0]
    values["server_id"] = launched["id"]
    values["task_id"] = launched["_links"]["rel/server_task"]["href"].rsplit("/", 1)[1]
    # Read once it has settled: a running task is caught up on every read.
    started = time.monotonic()
    while time.monotonic() - started < 180:
        task = await proxy.ok("GET", f"/server_tasks/{values['task_id']}")
        if task["state"] != "RUNNING":
            break
        await asyncio.sleep(POLL_SECONDS)
    else:
        print("(the CREATE task was still RUNNING after 180 s: task reads may show extra calls)")
    server = await proxy.ok("GET", f"/servers/{values['server_id']}")
    values["hostname"] = server["hostname"]
    print(f"Made: server {values['server_id']} ({server['virt_state']}, CREATE task {task['state']}), "
          f"server type {values['server_type']}, server group {values['group_id']}", flush=True)  # fmt: skip
    return values


def read_routes(mappings: MappingSet) -> list[Route]:
    return [r for r in mappings.routes if r.method in ("GET", "HEAD")]


def nova_path(call: dict[str, Any], names: dict[str, str]) -> str:
    """``GET /servers/{server_id}``: a Nova call, its ids put back as names,
    and the names of its query parameters."""
    path = str(call["path"])
    for value, name in sorted(names.items(), key=lambda item: -len(item[0])):
        path = path.replace(value, name)
    query = ",".join(call.get("query") or {})
    return f"{call['method']} {path}" + (f"?{query}" if query else "")


@contextlib.asynccontextmanager
async def serving(nova: str, store: Path) -> AsyncIterator[str]:
    """A proxy of its own, fresh (no caches), in front of ``nova``, with the
    explain record allowed; its base URL. Every proxy shares one task store."""
    settings = Settings(
        nova=NovaSettings(endpoint=nova),
        port=free_port(),
        store_url=f"sqlite:///{store}",
        tasks=TaskSettings(poll_interval=1.0),
        explain=True,
        access_log=False,
        log_level="WARNING",
    )
    runner = web.AppRunner(create_app(settings, load_mappings(settings.mappings_dir)), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, settings.host, settings.port).start()
        yield f"http://{settings.host}:{settings.port}"
    finally:
        await runner.cleanup()


async def measure(nova: str, token: str, store: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    async with aiohttp.ClientSession() as session:
        async with serving(nova, store) as base:
            owner, admin = Proxy(session, base, OWNER_TOKEN), Proxy(session, base, ADMIN_TOKEN)
            values = await make_things(owner, admin, nova, session)
        names = {v: f"{{{k}}}" for k, v in values.items() if k not in FIXED}
        # Nova's flavor id is not the server type's vNext id: name it too.
        flavors = f"{nova}/flavors/detail?is_public=None"
        async with session.get(flavors, headers={"X-Auth-Token": ADMIN_TOKEN, **MV}) as resp:
            for flavor in (await resp.json())["flavors"]:
                if flavor["name"].startswith("calls."):
                    names[str(flavor["id"])] = "{flavor}"
        # Each route on a proxy of its own: its 1st request is a caller the
        # proxy has not seen, with nothing cached by the set-up or another route.
        for route in read_routes(load_mappings()):
            async with serving(nova, store) as base:
                rows.append(await measure_route(Proxy(session, base, token), route, values, names))
    return rows


async def measure_route(proxy: Proxy, route: Route, values: dict[str, str], names: dict[str, str]) -> dict[str, Any]:
    row: dict[str, Any] = {"route": f"{route.method} {route.uri}"}
    if route.status == "not_applicable" or route.not_applicable is not None:
        row["skipped"] = "not_applicable: the proxy answers it without Nova"
        return row
    missing = [v for v in route.path_vars if v not in values]
    if missing:
        row["skipped"] = f"no value for {', '.join(missing)}"
        return row
    path = route.path
    for var in route.path_vars:
        path = path.replace(f"{{{var}}}", values[var])
    first = await proxy.call(route.method, path, explain=True)
    second = await proxy.call(route.method, path, explain=True)
    row["status"] = str(first[0]) if first[0] == second[0] else f"{first[0]}/{second[0]}"
    row["first"] = first[2]
    row["second"] = second[2]
    row["paths"] = [nova_path(c, names) for c in second[2] or []]
    row["first_paths"] = [nova_path(c, names) for c in first[2] or []]
    return row


def count(calls: Any) -> str:
    return "?" if calls is None else str(len(calls))


def print_table(rows: list[dict[str, Any]], show_first: bool = False) -> None:
    width = max(len(r["route"]) for r in rows)
    print(f"\n{'route':{width}}  {'status':>7}  {'1st':>3}  {'2nd':>3}  Nova calls of the 2nd")
    for row in rows:
        if "skipped" in row:
            print(f"{row['route']:{width}}  {'-':>7}  {'-':>3}  {'-':>3}  skipped ({row['skipped']})")
            continue
        paths = "; ".join(row["paths"]) or ("-" if row["second"] is not None else "(no explain record)")
        first, second = count(row["first"]), count(row["second"])
        print(f"{row['route']:{width}}  {row['status']:>7}  {first:>3}  {second:>3}  {paths}")
        if show_first and row["first_paths"] != row["paths"]:
            print(f"{'':{width}}  {'':>7}  {'':>3}  {'':>3}  1st: {'; '.join(row['first_paths']) or '-'}")
    measured = [r for r in rows if "skipped" not in r]
    many = [r for r in measured if r["second"] is not None and len(r["second"]) > 1]
    unknown = [r for r in measured if r["second"] is None]
    print(
        f"\n{len(many)} of {len(measured)} read routes measured take more than one Nova call on the 2nd request"
        + (f" ({len(unknown)} without an explain record)" if unknown else "")
        + f"; {len(rows) - len(measured)} skipped."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--token", default=OWNER_TOKEN, help="the reader's devcloud token (devcloud-admin, say)")
    parser.add_argument("--first", action="store_true", help="also show the 1st request's calls, where they differ")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print("Starting devcloud (about a minute) ...", flush=True)
        # devcloud's fast mode, its token table: what is measured is the proxy, not Keystone's validations.
        with DevCloudProcess(port=0, log_path=Path(tmp) / "devcloud.log", keystone=False) as cloud:
            assert cloud.endpoint is not None
            try:
                rows = asyncio.run(measure(cloud.endpoint, args.token, Path(tmp) / "tasks.sqlite3"))
            except Exception:
                print((Path(tmp) / "devcloud.log").read_text()[-3000:], file=sys.stderr)
                raise
    print_table(rows, show_first=args.first)


if __name__ == "__main__":
    main()
