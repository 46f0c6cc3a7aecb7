"""``vnext-proxy demo``: devcloud and the proxy together, for a first look."""

from __future__ import annotations

import asyncio
import json
import signal
import uuid
from pathlib import Path

import aiohttp
from aiohttp import web

from vnext_proxy.config import NovaSettings, Settings, TaskSettings
from vnext_proxy.devcloud.identities import PROJECT_A
from vnext_proxy.devcloud.keystone import PASSWORD, password_token
from vnext_proxy.devcloud.process import DevCloudProcess
from vnext_proxy.mapping.loader import load_mappings
from vnext_proxy.web.app import create_app

#: The demo's user: a member of project A, whose servers get addresses.
USER = "alice"
#: How the calls the demo prints send her token, exported once.
TOKEN = "$TOKEN"


def run_demo(proxy_port: int, nova_port: int, once: bool = False) -> int:
    print(f"Starting devcloud (the real Nova 34, Keystone 30) on 127.0.0.1:{nova_port} ...", flush=True)
    proxy_url = f"http://127.0.0.1:{proxy_port}/"
    with DevCloudProcess(nova_port, log_path=Path("var/devcloud.log"), vnext_url=proxy_url) as cloud:
        assert cloud.endpoint is not None
        assert cloud.keystone_url is not None
        print(f"devcloud is up: Nova at {cloud.endpoint}, Keystone at {cloud.keystone_url} (log: var/devcloud.log)")
        token = password_token(cloud.keystone_url, USER, PROJECT_A)
        print(f"Signed in to Keystone as {USER} (project {PROJECT_A}, password '{PASSWORD}'); her token:")
        print(f'\nexport TOKEN="{token}"\n', flush=True)
        return asyncio.run(_serve(cloud.endpoint, proxy_port, once, token))


async def _serve(nova_endpoint: str, port: int, once: bool, token: str) -> int:
    settings = Settings(
        nova=NovaSettings(endpoint=nova_endpoint), port=port, tasks=TaskSettings(poll_interval=1.0), explain=True
    )
    app = create_app(settings, load_mappings(settings.mappings_dir))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.host, port).start()
    base = f"http://{settings.host}:{port}"
    try:
        await tour(base, nova_endpoint, token)
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


async def tour(base: str, nova_endpoint: str, token: str) -> str:
    """The demo's calls with ``token``, made to the proxy at ``base`` in front
    of devcloud at ``nova_endpoint``: read, launch, a task. The id of the
    server launched."""
    await _read_tour(base, token)
    return await _task_tour(base, nova_endpoint, token)


async def _read_tour(base: str, token: str) -> None:
    print(f"vnext-proxy is serving the vNext API at {base}")
    print("Keystone's catalog lists it as compute-vnext. The calls below send the token as $TOKEN.\n")
    examples = [
        ("The JSON-Home document: every route this proxy serves", f"curl -s {base}/", "/"),
        (
            "Server types: Nova's flavors, translated into vNext",
            f"curl -s -H \"X-Auth-Token: {TOKEN}\" '{base}/server_types?limit=2'",
            "/server_types?limit=2",
        ),
    ]
    async with aiohttp.ClientSession(headers={"X-Auth-Token": token}) as session:
        for title, curl, path in examples:
            async with session.get(base + path) as resp:
                body = await resp.json(content_type=None)
            print(f"# {title}\n$ {curl}")
            print(f"HTTP {resp.status}")
            print(_excerpt(body), "\n", flush=True)


IMAGE = "155d900f-4e14-4e4c-a73d-069cbf4541e6"  # devcloud's first image
MV = {"OpenStack-API-Version": "compute 2.100"}
DEMO_PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBmqrTPzc3bR1D1hvPhTVRWLexGkg1Ez/3y4fW6xK4Mm demo"


async def _task_tour(base: str, nova_endpoint: str, token: str) -> str:
    headers = {"X-Auth-Token": token}
    async with aiohttp.ClientSession(headers=headers) as session:
        # Neither spec revision can make a keypair: the demo makes one on
        # Nova, finds its vNext id with the proxy's GET /keypairs extension,
        # then launches through the proxy.
        name = f"demo-{uuid.uuid4().hex[:6]}"
        key = {"keypair": {"name": name, "public_key": DEMO_PUBLIC_KEY}}
        async with session.post(nova_endpoint + "/os-keypairs", json=key, headers=MV) as resp:
            resp.raise_for_status()
        print(f"# Find its id: GET /keypairs/{name}")
        async with session.get(f"{base}/keypairs/{name}") as resp:
            keypair_id = (await resp.json())["id"]
        async with session.get(f"{base}/server_types/m1.tiny") as resp:
            type_id = (await resp.json())["id"]
        launch = {
            "defaults": {
                "type_id": type_id,
                "template_id": IMAGE,
                "keypair_id": keypair_id,
                "hostname_pattern": "demo-%(rand_num)4d",
            },
            "servers": [{}],
        }
        print("# Launch a server: POST /projects/{project}/servers")
        print(
            f"$ curl -s -H \"X-Auth-Token: {TOKEN}\" -H 'Content-Type: application/json' "
            f"-d '{json.dumps(launch)}' {base}/projects/{PROJECT_A}/servers"
        )
        async with session.post(f"{base}/projects/{PROJECT_A}/servers", json=launch) as resp:
            launched = await resp.json()
        print(f"HTTP {resp.status}")
        print(_excerpt(launched, limit=700), "\n")
        server_id: str = launched[0]["id"]
        print(f'$ curl -s -I -H "X-Auth-Token: {TOKEN}" {base}/servers/{server_id}')
        for _ in range(120):
            async with session.head(f"{base}/servers/{server_id}") as resp:
                virt = resp.headers.get("X-OpenStack-Compute-Server-Virt-State")
            print(f"  virt state: {virt}", flush=True)
            if virt != "BUILDING":
                break
            await asyncio.sleep(1)
        async with session.get(f"{base}/servers/{server_id}") as resp:
            print(f'\n$ curl -s -H "X-Auth-Token: {TOKEN}" {base}/servers/{server_id}')
            print(_excerpt(await resp.json(), limit=900), "\n")

        print("# A task: POWER_OFF, instead of Nova's os-stop action")
        print(
            f"$ curl -s -H \"X-Auth-Token: {TOKEN}\" -H 'Content-Type: application/json' "
            f'-d \'{{"action": "POWER_OFF"}}\' {base}/servers/{server_id}/tasks'
        )
        async with session.post(f"{base}/servers/{server_id}/tasks", json={"action": "POWER_OFF"}) as resp:
            task = await resp.json()
        print(f"HTTP {resp.status}, Location: {resp.headers.get('Location')}")
        started = asyncio.get_running_loop().time()
        while True:
            async with session.get(f"{base}/server_tasks/{task['id']}") as resp:
                task = await resp.json()
            elapsed = asyncio.get_running_loop().time() - started
            print(f"  {elapsed:5.1f}s  task {task['action']}: {task['state']}", flush=True)
            if task["state"] != "RUNNING" or elapsed > 120:
                break
            await asyncio.sleep(1)
        async with session.get(f"{base}/server_tasks/{task['id']}/items") as resp:
            items = (await resp.json())["items"]
        print("  steps: " + ", ".join(f"{i['action']} {i['state']}" for i in items))
        print(f'\n$ curl -s -H "X-Auth-Token: {TOKEN}" {base}/servers/{server_id}/tasks   # its history')
        print(f"$ curl -s -H \"X-Auth-Token: {TOKEN}\" -H 'X-VNext-Explain: 1' {base}/servers/{server_id}")
        print("  (the answer plus the Nova calls made for it)\n", flush=True)
    return server_id


def _excerpt(body: object, limit: int = 1200) -> str:
    text = json.dumps(body, indent=2)
    return text if len(text) <= limit else text[:limit] + "\n  ... (cut)"
