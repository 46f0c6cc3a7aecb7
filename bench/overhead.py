"""The proxy's own cost: latency and throughput, through the proxy and without it.

Two set-ups, side by side in one run, each at 1 and 64 concurrent clients
(wrk), for GET /servers/{id} and a list of 50 servers:

(b) a fast stand-in of Nova that replays answers recorded from devcloud
    (bench/recordings/): Nova directly, through the proxy, and through an
    nginx pass-through hop. The proxy's own cost is this comparison. The
    proxy keeps list answers Nova repeats byte for byte, so the list is also
    measured with one server changed in every answer.
    Besides wrk's figures, each hop's CPU time per request is printed: on a
    shared machine it moves less than throughput does.
(a) with --devcloud: devcloud directly and through the proxy. devcloud
    answers about 10 GETs a second, so this mostly measures Nova.

Targets for (b): added p50 at most 2 ms; at 64 clients, at least 25% of the
nginx hop's throughput. Needs wrk and nginx (Debian: apt install wrk nginx).

    .venv/bin/python bench/overhead.py [--seconds 5] [--devcloud] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import cProfile
import itertools
import json
import os
import pstats
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
RECORDED = json.loads((ROOT / "bench" / "recordings" / "nova-2.100.json").read_text())
TOKEN = "bench-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def stand_in_app() -> web.Application:
    """Replays the recorded server; the list is 50 copies with their own ids."""
    server = RECORDED["server"]["server"]
    servers = []
    for _ in range(50):
        copied = copy.deepcopy(server)
        copied["id"] = str(uuid.uuid4())
        servers.append(copied)
    one = json.dumps(RECORDED["server"]).encode()
    many = json.dumps({"servers": servers}).encode()
    headers = {"Content-Type": "application/json", "x-openstack-request-id": "req-recorded"}

    async def show(request: web.Request) -> web.Response:
        return web.Response(body=one, headers=headers)

    async def detail(request: web.Request) -> web.Response:
        if request.query.get("all_tenants"):
            return web.json_response({"forbidden": {"code": 403, "message": "policy"}}, status=403)
        return web.Response(body=many, headers=headers)

    # The same list, but its first server changed (its "updated" moves on)
    # in every answer: what the proxy does when Nova's answer is new.
    head, tail = many.split(json.dumps({"updated": server["updated"]})[1:-1].encode(), 1)
    recorded_update = datetime.fromisoformat(server["updated"].replace("Z", "+00:00"))
    answers = itertools.count(1)

    async def changing_detail(request: web.Request) -> web.Response:
        updated = (recorded_update + timedelta(seconds=next(answers))).strftime("%Y-%m-%dT%H:%M:%SZ")
        return web.Response(body=head + json.dumps({"updated": updated})[1:-1].encode() + tail, headers=headers)

    async def versions(request: web.Request) -> web.Response:
        return web.json_response({"versions": [{"id": "v2.1", "version": "2.104", "min_version": "2.1"}]})

    app = web.Application()
    app.router.add_get("/", versions)
    app.router.add_get("/v2.1/servers/detail", detail)
    app.router.add_get("/v2.1/servers/{id}", show)
    app.router.add_get("/changing/", versions)
    app.router.add_get("/changing/v2.1/servers/detail", changing_detail)
    return app


def run_stand_in(port: int) -> None:
    web.run_app(stand_in_app(), host="127.0.0.1", port=port, print=None, access_log=None)


def start(cmd: list[str], **kw: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL: the proxy's graceful stop waits for the Nova
    calls still in flight, and after wrk has overloaded devcloud those can
    take longer than a benchmark should wait."""
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        for pid in (*descendants(proc.pid), proc.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.wait()


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


WORKERS = 1


def start_proxy(nova_endpoint: str, port: int, tmp: str) -> subprocess.Popen[bytes]:
    config = Path(tmp) / f"proxy-{port}.yaml"
    config.write_text(
        f"nova:\n  endpoint: {nova_endpoint}\nlisten:\n  port: {port}\n  workers: {WORKERS}\n"
        f"store:\n  url: sqlite:///{tmp}/tasks-{port}.sqlite3\nlogging:\n  level: WARNING\n  access_log: false\n"
    )
    proc = start([sys.executable, "-m", "vnext_proxy", "serve", "--config", str(config)])
    wait_port(port)
    return proc


def start_nginx(upstream: int, port: int, tmp: str) -> subprocess.Popen[bytes] | None:
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if nginx is None:
        return None
    conf = Path(tmp) / "nginx.conf"
    conf.write_text(
        f"""daemon off; worker_processes 1; pid {tmp}/nginx.pid; error_log {tmp}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{ access_log off;
  client_body_temp_path {tmp}; proxy_temp_path {tmp}; fastcgi_temp_path {tmp}; uwsgi_temp_path {tmp};
  scgi_temp_path {tmp};
  upstream nova {{ server 127.0.0.1:{upstream}; keepalive 64; }}
  server {{ listen 127.0.0.1:{port};
    location / {{ proxy_pass http://nova; proxy_http_version 1.1; proxy_set_header Connection ""; }} }} }}
"""
    )
    proc = start([nginx, "-c", str(conf), "-p", tmp])
    wait_port(port)
    return proc


def descendants(pid: int) -> list[int]:
    """The process's children, theirs, and so on (the proxy's workers)."""
    found: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                found += [int(child), *descendants(int(child))]
    except (FileNotFoundError, ProcessLookupError):
        pass
    return found


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and all its descendants so far."""
    total = 0.0
    for each in (pid, *descendants(pid)):
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


#: What the proxy asks Nova for (its default microversion): calls made to
#: Nova directly ask the same, so both sides do the same work.
NOVA_HEADERS = ("-H", "OpenStack-API-Version: compute 2.100")


def wrk(
    url: str,
    clients: int,
    seconds: int,
    hop: subprocess.Popen[bytes] | None = None,
    timeout: int = 2,
    headers: tuple[str, ...] = (),
) -> dict[str, float]:
    """wrk's figures, and the CPU the hop (nginx or the proxy) spent per request."""
    cpu_before = cpu_seconds(hop.pid) if hop is not None else 0.0
    out = subprocess.run(
        ["wrk", "-t", "1" if clients == 1 else "4", "-c", str(clients), "-d", f"{seconds}s", "--latency",
         "--timeout", f"{timeout}s", "-H", f"X-Auth-Token: {TOKEN}", *headers, url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip

    def ms(label: str) -> float:
        match = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if match is None:
            return float("nan")
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    timeouts = re.search(r"Socket errors:.*timeout (\d+)", out)
    served = re.search(r"(\d+) requests in", out)
    cpu = cpu_seconds(hop.pid) - cpu_before if hop is not None else float("nan")
    cpu_us = cpu * 1e6 / int(served.group(1)) if served and int(served.group(1)) else float("nan")
    return {"p50": ms("50"), "p99": ms("99"), "rps": float(rps.group(1)) if rps else 0.0,
            "errors": float(errors.group(1)) if errors else 0.0, "cpu_us": cpu_us,
            "timeouts": float(timeouts.group(1)) if timeouts else 0.0}  # fmt: skip


def table(title: str, rows: dict[str, dict[str, float]], base: str) -> None:
    print(f"\n{title}")
    print(
        f"  {'':34} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>9} {'p50 added':>10} {'req/s ratio':>12}"
        f" {'hop CPU us/req':>15}"
    )
    for name, r in rows.items():
        added = r["p50"] - rows[base]["p50"]
        ratio = r["rps"] / rows[base]["rps"] if rows[base]["rps"] else float("nan")
        flag = f"  ({int(r['errors'])} errors!)" if r["errors"] else ""
        flag += f"  ({int(r['timeouts'])} timed out)" if r["timeouts"] else ""
        cpu = "" if r["cpu_us"] != r["cpu_us"] else f"{r['cpu_us']:.0f}"
        print(
            f"  {name:34} {r['p50']:8.2f} {r['p99']:8.2f} {r['rps']:9.0f} {added:+10.2f} {ratio:12.2f} {cpu:>15}{flag}"
        )


def bench_stand_in(seconds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        nova_port, proxy_port, nginx_port = free_port(), free_port(), free_port()
        stand_in = start([sys.executable, __file__, "--stand-in", str(nova_port)])
        wait_port(nova_port)
        proxy = start_proxy(f"http://127.0.0.1:{nova_port}/v2.1", proxy_port, tmp)
        # The same proxy, in front of the list that changes in every answer.
        changing_port = free_port()
        changing = start_proxy(f"http://127.0.0.1:{nova_port}/changing/v2.1", changing_port, tmp)
        nginx = start_nginx(nova_port, nginx_port, tmp)
        try:
            sid = RECORDED["server"]["server"]["id"]
            paths = {
                "GET /servers/{id}": (f"/v2.1/servers/{sid}", f"/servers/{sid}", proxy, proxy_port, (1, 64)),
                "list of 50": ("/v2.1/servers/detail?limit=50", "/servers?limit=50", proxy, proxy_port, (1, 64)),
                "list of 50, one server changed in every answer": (
                    "/changing/v2.1/servers/detail?limit=50", "/servers?limit=50", changing, changing_port, (1, 64)
                ),
            }  # fmt: skip
            for label, (nova_path, vnext_path, vnext_proxy, vnext_port, concurrency) in paths.items():
                for clients in concurrency:
                    rows = {
                        "stand-in Nova, directly": wrk(
                            f"http://127.0.0.1:{nova_port}{nova_path}", clients, seconds, headers=NOVA_HEADERS
                        )
                    }
                    if nginx is not None:
                        rows["through nginx (a pass-through hop)"] = wrk(
                            f"http://127.0.0.1:{nginx_port}{nova_path}", clients, seconds, nginx, headers=NOVA_HEADERS
                        )
                    rows["through vnext-proxy"] = wrk(
                        f"http://127.0.0.1:{vnext_port}{vnext_path}", clients, seconds, vnext_proxy
                    )
                    table(f"(b) {label}, {clients} client(s)", rows, "stand-in Nova, directly")
                    if nginx is not None and clients == 64:
                        hop, through = rows["through nginx (a pass-through hop)"], rows["through vnext-proxy"]
                        share = through["rps"] / hop["rps"]
                        print(f"  vnext-proxy throughput is {share:.0%} of the nginx hop's (target: at least 25%)")
                        # Throughput on a shared machine moves with whatever
                        # else runs; the CPU each request costs moves less.
                        print(f"  vnext-proxy spends {through['cpu_us'] / hop['cpu_us']:.1f}x nginx's CPU per request")
                    if clients == 1:
                        added = rows["through vnext-proxy"]["p50"] - rows["stand-in Nova, directly"]["p50"]
                        print(f"  vnext-proxy adds {added:.2f} ms at p50 (target: at most 2 ms)")
            if nginx is None:
                print("\n(nginx not found: the pass-through hop was not measured)")
        finally:
            for proc in (proxy, changing, nginx, stand_in):
                if proc is not None:
                    stop(proc)


def bench_devcloud(seconds: int) -> None:
    from vnext_proxy.devcloud.process import DevCloudProcess

    # devcloud's fast mode, its token table: what is measured is the proxy, not Keystone's validations.
    with tempfile.TemporaryDirectory() as tmp, DevCloudProcess(keystone=False) as cloud:
        assert cloud.endpoint is not None
        global TOKEN
        saved, TOKEN = TOKEN, "devcloud-member-a"
        boot = {"server": {"name": "bench", "imageRef": "155d900f-4e14-4e4c-a73d-069cbf4541e6", "flavorRef": "1",
                           "networks": "none"}}  # fmt: skip
        import requests

        headers = {"X-Auth-Token": TOKEN, "OpenStack-API-Version": "compute 2.100"}
        sid = requests.post(f"{cloud.endpoint}/servers", json=boot, headers=headers, timeout=30).json()["server"]["id"]
        time.sleep(3)
        port = free_port()
        proxy = start_proxy(cloud.endpoint, port, tmp)

        def drained() -> None:
            """devcloud works through the backlog wrk leaves (it does not see
            clients leave): each run starts when a GET is quick again."""
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                started = time.monotonic()
                requests.get(f"{cloud.endpoint}/servers/{sid}", headers=headers, timeout=60)
                if time.monotonic() - started < 0.5:
                    return
                time.sleep(1)

        try:
            for clients in (1, 64):
                # At about 10 GETs a second, 64 clients wait seconds each.
                timeout = 2 if clients == 1 else 30
                drained()
                direct = wrk(f"{cloud.endpoint}/servers/{sid}", clients, seconds, timeout=timeout, headers=NOVA_HEADERS)
                drained()
                rows = {
                    "devcloud, directly": direct,
                    "through vnext-proxy": wrk(
                        f"http://127.0.0.1:{port}/servers/{sid}", clients, seconds, proxy, timeout=timeout
                    ),
                }
                table(f"(a) GET /servers/{{id}} on devcloud, {clients} client(s)", rows, "devcloud, directly")
        finally:
            stop(proxy)
            TOKEN = saved


async def profile(requests_count: int) -> None:
    """Where the time goes, serving GET /servers/{id} and a list of 50 in-process
    (the proxy as serve runs it, the stand-in and the client share the process)."""
    import gc

    import aiohttp

    from vnext_proxy.cli import settle_garbage_collector
    from vnext_proxy.config import NovaSettings, Settings
    from vnext_proxy.mapping.loader import load_mappings
    from vnext_proxy.web.app import create_app

    collecting = {"since": 0.0, "total": 0.0}

    def time_collections(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collecting["since"] = time.perf_counter()
        else:
            collecting["total"] += time.perf_counter() - collecting["since"]

    nova_runner = web.AppRunner(stand_in_app())
    await nova_runner.setup()
    nova_port = free_port()
    await web.TCPSite(nova_runner, "127.0.0.1", nova_port).start()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            nova=NovaSettings(endpoint=f"http://127.0.0.1:{nova_port}/v2.1"),
            store_url=f"sqlite:///{tmp}/t.sqlite3",
            access_log=False,
        )
        app = create_app(settings, load_mappings(ROOT / "mappings"))
        app.on_startup.append(settle_garbage_collector)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        sid = RECORDED["server"]["server"]["id"]
        paths = {"GET /servers/{id}": f"/servers/{sid}", "list of 50": "/servers?limit=50"}
        async with aiohttp.ClientSession(headers={"X-Auth-Token": TOKEN}) as session:
            for label, path in paths.items():
                profiler = cProfile.Profile()
                collecting["total"] = 0.0
                gc.callbacks.append(time_collections)
                started = time.perf_counter()
                profiler.enable()
                for _ in range(requests_count):
                    async with session.get(f"http://127.0.0.1:{port}{path}") as resp:
                        await resp.read()
                profiler.disable()
                elapsed = time.perf_counter() - started
                gc.callbacks.remove(time_collections)
                print(f"\nProfile of {requests_count} x {label} (proxy, stand-in and client in one process):")
                print(f"  garbage collection: {collecting['total'] / elapsed:.1%} of the time")
                pstats.Stats(profiler).sort_stats("tottime").print_stats(15)
        await runner.cleanup()
    await nova_runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--devcloud", action="store_true", help="also measure against devcloud")
    parser.add_argument("--profile", action="store_true", help="also profile the proxy")
    parser.add_argument("--workers", type=int, default=1, help="proxy processes (listen.workers)")
    parser.add_argument("--stand-in", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    global WORKERS
    WORKERS = args.workers
    if args.stand_in:
        run_stand_in(args.stand_in)
        return
    if shutil.which("wrk") is None:
        sys.exit("bench/overhead.py needs wrk (Debian: apt install wrk)")
    bench_stand_in(args.seconds)
    if args.devcloud:
        bench_devcloud(args.seconds)
    if args.profile:
        asyncio.run(profile(2000))


if __name__ == "__main__":
    main()
