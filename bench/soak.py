"""Soak: minutes of mixed traffic, hostile requests among them, against the
proxy in front of the fast stand-in of Nova (bench/overhead.py's, replaying
answers recorded from devcloud). Prints the proxy's resident memory at the
start and at the end (and their ratio), p50 and p99 latency, and the
count of errors: answers of 500 or more, and requests that failed.

Expect a flat RSS (the caches are bounded by bytes, per-token state is
pruned) and 0 errors.

    .venv/bin/python bench/soak.py [--seconds 300] [--clients 16]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from overhead import RECORDED, TOKEN, free_port, start, start_proxy, stop, wait_port

SERVER = RECORDED["server"]["server"]["id"]
DEEP = "[" * 5000 + "]" * 5000


def mixed_requests(rng: random.Random) -> tuple[str, str, str | None, dict[str, str]]:
    """One request of the mix: mostly reads, a fifth of them hostile."""
    token = {"X-Auth-Token": TOKEN}
    choice = rng.random()
    if choice < 0.4:
        return "GET", f"/servers/{SERVER}", None, token
    if choice < 0.6:
        return "GET", "/servers?limit=50", None, token
    if choice < 0.7:
        # Another token every time: state kept per token must not grow.
        return "GET", f"/servers/{SERVER}", None, {"X-Auth-Token": f"soak-{uuid.uuid4().hex}"}
    if choice < 0.8:
        return "GET", "/", None, {}
    hostile = [
        ("GET", "/servers?limit=%C2%B2", None),
        ("GET", "/projects/..%2Fflavors%2F1/servers", None),
        ("GET", "/servers?since=9999-12-31T23:59:59-23:59", None),
        ("POST", "/server_types", DEEP),
        ("POST", f"/servers/{SERVER}/tasks", '{"action": "DETACH_BLOCK_DEVICE", "volume_id": ".."}'),
        ("GET", "/servers?marker=" + "m" * 1000, None),
    ]
    method, path, body = rng.choice(hostile)
    return method, path, body, {**token, "Content-Type": "application/json"}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def drive(base: str, seconds: float, clients: int) -> tuple[list[float], int, int]:
    latencies: list[float] = []
    errors = 0
    sent = 0
    deadline = time.monotonic() + seconds
    rng = random.Random(7)

    async def client(session: aiohttp.ClientSession) -> None:
        nonlocal errors, sent
        while time.monotonic() < deadline:
            method, path, body, headers = mixed_requests(rng)
            started = time.perf_counter()
            try:
                async with session.request(method, base + path, data=body, headers=headers) as resp:
                    await resp.read()
                    errors += resp.status >= 500
            except aiohttp.ClientError:
                errors += 1
            latencies.append(time.perf_counter() - started)
            sent += 1

    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        await asyncio.gather(*(client(session) for _ in range(clients)))
    return latencies, errors, sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--clients", type=int, default=16)
    args = parser.parse_args()
    nova_port, proxy_port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as tmp:
        stand_in = start([sys.executable, str(Path(__file__).parent / "overhead.py"), "--stand-in", str(nova_port)])
        wait_port(nova_port)
        proxy = start_proxy(f"http://127.0.0.1:{nova_port}/v2.1", proxy_port, tmp)
        base = f"http://127.0.0.1:{proxy_port}"
        try:
            asyncio.run(drive(base, min(10.0, args.seconds), args.clients))  # warm up
            before = rss_mb(proxy.pid)
            latencies, errors, sent = asyncio.run(drive(base, args.seconds, args.clients))
            after = rss_mb(proxy.pid)
        finally:
            stop(proxy)
            stop(stand_in)
    cuts = statistics.quantiles(latencies, n=100)
    print(f"{sent} requests in {args.seconds:g} s from {args.clients} clients, a fifth of them hostile")
    print(f"RSS: {before:.1f} MB after warming up, {after:.1f} MB at the end (x{after / before:.2f})")
    print(f"latency: p50 {cuts[49] * 1000:.1f} ms, p99 {cuts[98] * 1000:.1f} ms")
    print(f"errors (5xx or failed): {errors}")


if __name__ == "__main__":
    main()
