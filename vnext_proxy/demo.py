"""``vnext-proxy demo``: devcloud and the proxy together, for a first look."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import aiohttp
from aiohttp import web

from vnext_proxy.config import NovaSettings, Settings
from vnext_proxy.devcloud.identities import PROJECT_A
from vnext_proxy.devcloud.process import DevCloudProcess
from vnext_proxy.mapping.loader import load_mappings
from vnext_proxy.web.app import create_app

TOKEN = "devcloud-member-a"


def run_demo(proxy_port: int, nova_port: int, once: bool = False) -> int:
    print(f"Starting devcloud (the real Nova 34, fake virt driver) on 127.0.0.1:{nova_port} ...", flush=True)
    with DevCloudProcess(nova_port, log_path=Path("var/devcloud.log")) as cloud:
        assert cloud.endpoint is not None
        print(f"devcloud is up at {cloud.endpoint} (log: var/devcloud.log)")
        return asyncio.run(_serve(cloud.endpoint, proxy_port, once))


async def _serve(nova_endpoint: str, port: int, once: bool) -> int:
    settings = Settings(nova=NovaSettings(endpoint=nova_endpoint), port=port)
    app = create_app(settings, load_mappings(settings.mappings_dir))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.host, port).start()
    base = f"http://{settings.host}:{port}"
    try:
        await _tour(base)
        if once:
            return 0
        print("\nThe proxy keeps running; press Ctrl-C to stop both.", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        return 0
    finally:
        await runner.cleanup()


async def _tour(base: str) -> None:
    print(f"\nvnext-proxy is serving the vNext API at {base}")
    print(f"devcloud accepts these tokens, among others: {TOKEN} (a member of project {PROJECT_A}),")
    print("devcloud-admin (an admin). `vnext-proxy devcloud` lists them all.\n")
    examples = [
        ("The JSON-Home document: every route this proxy serves", f"curl -s {base}/", "/"),
        (
            "Server types: Nova's flavors, translated into vNext",
            f"curl -s -H 'X-Auth-Token: {TOKEN}' '{base}/server_types?limit=2'",
            "/server_types?limit=2",
        ),
    ]
    async with aiohttp.ClientSession(headers={"X-Auth-Token": TOKEN}) as session:
        for title, curl, path in examples:
            async with session.get(base + path) as resp:
                body = await resp.json(content_type=None)
            print(f"# {title}\n$ {curl}")
            print(f"HTTP {resp.status}")
            print(_excerpt(body), "\n", flush=True)


def _excerpt(body: object, limit: int = 1200) -> str:
    text = json.dumps(body, indent=2)
    return text if len(text) <= limit else text[:limit] + "\n  ... (cut)"
