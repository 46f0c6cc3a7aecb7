"""The ``vnext`` command, run as a program against a real listening proxy in
front of devcloud: what it prints, how it exits, and the effect in Nova.
The live --wait display is read from a real terminal (tmux)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fuzz import serving
from users import identity, token

from vnext_proxy.config import DEFAULT_ID_NAMESPACE, NovaSettings, Settings, TaskSettings
from vnext_proxy.devcloud.identities import PROJECT_A
from vnext_proxy.mapping.ids import keypair_id
from vnext_proxy.mapping.model import MappingSet
from vnext_proxy.web.app import create_app

#: The installed console script (pyproject's [project.scripts]), beside this Python.
VNEXT = Path(sys.executable).parent / "vnext"
IMAGE = "155d900f-4e14-4e4c-a73d-069cbf4541e6"
MV = {"OpenStack-API-Version": "compute 2.100"}
MEMBER = "alice"
KEYPAIR = "vnext-cli-key"
PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBmqrTPzc3bR1D1hvPhTVRWLexGkg1Ez/3y4fW6xK4Mm vnext-cli"


def environment() -> dict[str, str]:
    """This process's environment without OpenStack's variables: the CLI
    gets its endpoint and token from the command line only."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("OS_", "VNEXT_"))}


@pytest.fixture(scope="module")
def endpoint(
    devcloud: str, catalog_port: int, mappings: MappingSet, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The proxy in front of devcloud, where Keystone's catalog says it is."""
    assert VNEXT.exists(), f"{VNEXT} is missing: install the package again (make setup) for its `vnext` script"
    store = tmp_path_factory.mktemp("vnext-cli") / "tasks.sqlite3"
    settings = Settings(
        nova=NovaSettings(endpoint=devcloud), store_url=f"sqlite:///{store}", tasks=TaskSettings(poll_interval=0.5)
    )
    with serving() as thread:
        yield thread.serve(create_app(settings, mappings), catalog_port)


Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def vnext(endpoint: str) -> Run:
    def run(*argv: str, user: str = MEMBER) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(VNEXT), *argv, "--endpoint", endpoint, "--token", token(user)],
            capture_output=True, text=True, timeout=180, env=environment(),
        )  # fmt: skip

    return run


def nova_server(nova_as, server_id: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    server: dict[str, Any] = nova_as(MEMBER).compute.get(f"/servers/{server_id}", headers=MV).json()["server"]
    return server


def until(what: str, check: Callable[[], bool], timeout: float = 90, every: float = 0.5) -> None:
    """Poll devcloud gently until ``check`` holds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(every)


@pytest.fixture(scope="module")
def keypair(nova_as) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A keypair made in Nova directly; its name."""
    nova = nova_as(MEMBER)
    resp = nova.compute.post("/os-keypairs", json={"keypair": {"name": KEYPAIR, "public_key": PUBLIC_KEY}}, headers=MV)
    assert resp.status_code == 201, resp.text
    try:
        yield KEYPAIR
    finally:
        nova.compute.delete(f"/os-keypairs/{KEYPAIR}", headers=MV)


@pytest.fixture(scope="module")
def server(boot_server, forget_servers) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A server booted in Nova directly, shared by this module's tests; each
    test that needs it running makes sure it is."""
    server_id: str = boot_server(f"vnext-cli-{uuid.uuid4().hex[:6]}")
    try:
        yield server_id
    finally:
        forget_servers([server_id])


@pytest.fixture
def active(server: str, nova_as) -> str:  # type: ignore[no-untyped-def]
    """The module's server, running (started in Nova directly if a test stopped it)."""
    if nova_server(nova_as, server)["OS-EXT-STS:vm_state"] == "stopped":
        resp = nova_as(MEMBER).compute.post(f"/servers/{server}/action", json={"os-start": None}, headers=MV)
        assert resp.status_code == 202, resp.text
    until("the server to be active", lambda: nova_server(nova_as, server)["OS-EXT-STS:vm_state"] == "active")
    until("Nova to finish", lambda: nova_server(nova_as, server)["OS-EXT-STS:task_state"] is None)
    return server


def test_servers_list_and_show(vnext: Run, server: str, nova_as) -> None:  # type: ignore[no-untyped-def]
    hostname = nova_server(nova_as, server)["OS-EXT-SRV-ATTR:hostname"]
    listed = vnext("servers", "list", "-f", "json")
    assert listed.returncode == 0, listed.stderr
    assert {s["id"]: s["hostname"] for s in json.loads(listed.stdout)}[server] == hostname

    table = vnext("servers", "list", "--project", PROJECT_A)
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[0].split()[:2] == ["ID", "HOSTNAME"]
    assert [server, hostname] in [line.split()[:2] for line in table.stdout.splitlines()]

    shown = vnext("servers", "show", server, "-f", "json")
    assert shown.returncode == 0, shown.stderr
    assert (json.loads(shown.stdout)["id"], json.loads(shown.stdout)["project_id"]) == (server, PROJECT_A)
    # By hostname, as a v2.1 script would name it.
    by_name = vnext("servers", "show", hostname, "--project", PROJECT_A)
    assert by_name.returncode == 0, by_name.stderr
    rows = {line.split()[0]: line.split()[1:] for line in by_name.stdout.splitlines()[2:] if line.split()}
    assert rows["id"] == [server]
    assert rows["hostname"] == [hostname]


def test_launch_waits_for_the_create_task(vnext: Run, keypair: str, nova_as, forget_servers) -> None:  # type: ignore[no-untyped-def]
    hostname = f"cli-launch-{uuid.uuid4().hex[:6]}"
    launched = vnext(
        "launch", "--project", PROJECT_A, "--type", "m1.tiny", "--template", IMAGE, "--keypair", keypair,
        "--hostname", hostname, "--wait", "-f", "json",
    )  # fmt: skip
    entries = json.loads(launched.stdout) if launched.stdout else []
    try:
        assert launched.returncode == 0, launched.stderr
        [entry] = entries
        assert entry["task"]["action"] == "CREATE"
        assert entry["task"]["state"] == "COMPLETED"
        assert entry["task"]["items"], "an ended task has at least one item"
        # The progress went to stderr, as plain lines (not a terminal), ending with the task's end.
        assert launched.stderr.splitlines()[-1].endswith(f"CREATE on server {entry['id']}: COMPLETED")
        nova = nova_server(nova_as, entry["id"])
        assert nova["OS-EXT-STS:vm_state"] == "active"
        assert nova["OS-EXT-SRV-ATTR:hostname"] == hostname
        assert nova["key_name"] == keypair
        assert nova["flavor"]["original_name"] == "m1.tiny"
    finally:
        forget_servers([e["id"] for e in entries])


def test_a_refused_launch_exits_1_listing_the_problems_and_launches_nothing(vnext: Run, keypair: str, nova_as) -> None:  # type: ignore[no-untyped-def]
    refused = vnext(
        "launch", "--project", PROJECT_A, "--type", "m1.tiny", "--template", IMAGE, "--keypair", keypair,
        "--hostname", "cli_not_a_hostname", "cli-twice", "cli-twice",
    )  # fmt: skip
    assert refused.returncode == 1
    assert refused.stdout == ""
    lines = refused.stderr.splitlines()
    assert lines[0] == "error: 400 Bad Request: 2 problem(s); nothing was launched"
    assert [line.split(":")[0].strip() for line in lines[1:3]] == ["servers[0].hostname", "servers[2].hostname"]
    assert re.fullmatch(r"request id: req-[0-9a-f-]{36}", lines[-1])
    names = {s["name"] for s in nova_as(MEMBER).compute.get("/servers", headers=MV).json()["servers"]}
    assert not names & {"cli_not_a_hostname", "cli-twice"}


def test_power_off_waits_and_stops_the_server_in_nova(vnext: Run, active: str, nova_as) -> None:  # type: ignore[no-untyped-def]
    started = vnext("task", "start", active, "power_off", "--wait")
    assert started.returncode == 0, started.stderr
    events = [line.split(None, 1)[1] for line in started.stdout.splitlines()]
    task_id = events[0].split()[1]
    assert events[0] == f"task {task_id} POWER_OFF on server {active}: RUNNING"
    assert events[-1] == f"task {task_id} POWER_OFF on server {active}: COMPLETED"
    assert f"item POWERING_OFF of task {task_id}: COMPLETED" in events
    assert nova_server(nova_as, active)["OS-EXT-STS:vm_state"] == "stopped"

    history = vnext("task", "list", active, "-f", "json")
    assert history.returncode == 0, history.stderr
    assert (task_id, "POWER_OFF", "COMPLETED") in [
        (t["id"], t["action"], t["state"]) for t in json.loads(history.stdout)
    ]
    shown = vnext("task", "show", task_id)
    assert ["state", "COMPLETED"] in [line.split() for line in shown.stdout.splitlines()]
    assert any(line.split()[:2] == ["POWERING_OFF", "COMPLETED"] for line in shown.stdout.splitlines())


def test_keypairs_list_shows_a_keypair_made_in_nova(vnext: Run, keypair: str, nova_as) -> None:  # type: ignore[no-untyped-def]
    fingerprint = nova_as(MEMBER).compute.get(f"/os-keypairs/{keypair}", headers=MV).json()["keypair"]["fingerprint"]
    listed = vnext("keypairs", "list")
    assert listed.returncode == 0, listed.stderr
    vnext_id = keypair_id(DEFAULT_ID_NAMESPACE, identity(MEMBER).user_id, keypair)
    assert [vnext_id, keypair, "ssh", fingerprint] in [line.split() for line in listed.stdout.splitlines()]
    # Bob sees none of Alice's.
    bobs = vnext("keypairs", "list", "-f", "json", user="bob")
    assert keypair not in {k["name"] for k in json.loads(bobs.stdout)}


def test_types_and_groups(vnext: Run) -> None:
    types = vnext("types", "list", "-f", "json")
    assert types.returncode == 0, types.stderr
    assert {"m1.tiny", "m1.small"} <= {t["name"] for t in json.loads(types.stdout)}
    groups = vnext("groups", "list", "--project", PROJECT_A, "-f", "json")
    assert groups.returncode == 0, groups.stderr
    assert isinstance(json.loads(groups.stdout), list)


def test_an_error_exits_1_with_the_request_id(vnext: Run) -> None:
    missing = str(uuid.uuid4())
    shown = vnext("servers", "show", missing)
    assert (shown.returncode, shown.stdout) == (1, "")
    message, request = shown.stderr.splitlines()
    assert message.startswith("error: 404 Not Found: ")
    assert missing in message
    assert re.fullmatch(r"request id: req-[0-9a-f-]{36}", request)
    # A hostname of ".." reaches the proxy as one segment, which it refuses.
    dots = vnext("servers", "show", "..", "--project", PROJECT_A)
    assert dots.returncode == 1
    assert dots.stderr.startswith("error: 404 Not Found")
    # Another project's server is the same 404, never 403.
    bob = vnext("task", "list", missing, user="bob")
    assert bob.returncode == 1
    assert bob.stderr.startswith("error: 404 Not Found")


def test_clouds_yaml_signs_in_through_keystone(endpoint: str, keystone: str, server: str, tmp_path: Path) -> None:
    """The standard configuration: a cloud of clouds.yaml, signed in with a
    password through devcloud's Keystone, which also says where the proxy
    is; the project comes from the token (a static token could not say)."""
    clouds = tmp_path / "clouds.yaml"
    lab: dict[str, Any] = {"auth_type": "v3password", "region_name": "RegionOne", "auth": {
        "auth_url": keystone, "username": "alice", "password": "devcloud", "project_name": "project-a",
        "user_domain_name": "Default", "project_domain_name": "Default"}}  # fmt: skip
    clouds.write_text(json.dumps({"clouds": {"lab": lab}}))
    env = {**environment(), "OS_CLIENT_CONFIG_FILE": str(clouds)}

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(VNEXT), *argv], capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)

    listed = run("--os-cloud", "lab", "--endpoint", endpoint, "servers", "list", "-f", "json")
    assert listed.returncode == 0, listed.stderr
    assert server in {s["id"] for s in json.loads(listed.stdout)}
    # No --project: the credentials' own.
    groups = run("--os-cloud", "lab", "--endpoint", endpoint, "groups", "list", "-f", "json")
    assert groups.returncode == 0, groups.stderr
    # Without --endpoint: the catalog's compute-vnext entry.
    found = run("--os-cloud", "lab", "servers", "list", "-f", "json")
    assert found.returncode == 0, found.stderr
    assert server in {s["id"] for s in json.loads(found.stdout)}
    # A service type the catalog lacks: the message names what to do.
    missing = run("--os-cloud", "lab", "--service-type", "compute-next", "servers", "list")
    assert missing.returncode == 1
    assert "the catalog has no 'compute-next' endpoint (public, RegionOne)" in missing.stderr
    wrong = {**lab, "auth": {**lab["auth"], "password": "wrong"}}
    clouds.write_text(json.dumps({"clouds": {"lab": wrong}}))
    refused = run("--os-cloud", "lab", "--endpoint", endpoint, "servers", "list")
    assert refused.returncode == 1
    assert refused.stderr.startswith("error: cannot sign in with cloud 'lab'")


class Terminal:
    """A tmux server of the test's own (its own socket), with one shell."""

    def __init__(self, socket: str) -> None:
        self.socket = socket

    def tmux(self, *argv: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, "-f", "/dev/null", *argv], capture_output=True, text=True, timeout=30,
            env=environment(),
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    def type(self, line: str) -> None:
        self.tmux("send-keys", "-t", "cli", "-l", line)
        self.tmux("send-keys", "-t", "cli", "Enter")

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "cli")

    def watch(self, shows: Callable[[str], bool], timeout: float = 90) -> list[str]:
        """Every screen seen (read every 0.1 s) until one ``shows`` what is awaited."""
        frames: list[str] = []
        deadline = time.monotonic() + timeout
        while not frames or not shows(frames[-1]):
            assert time.monotonic() < deadline, "the screen never showed it:\n" + (frames[-1] if frames else "")
            time.sleep(0.1)
            frames.append(self.screen())
        return frames


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[Terminal]:
    if shutil.which("tmux") is None:
        reason = "tmux is not installed (apt-get install -y tmux): the live display is read from a real terminal"
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(f"CI needs tmux: {reason}")
        pytest.skip(reason)
    term = Terminal(f"vnext-cli-{uuid.uuid4().hex[:8]}")
    # Wide enough that no line wraps; a plain shell, without anyone's rc files.
    term.tmux("new-session", "-d", "-s", "cli", "-x", "220", "-y", "50", "-c", str(tmp_path), "bash --norc --noprofile")
    try:
        yield term
    finally:
        term.tmux("kill-server")


def command(endpoint: str, *argv: str) -> str:
    return " ".join([str(VNEXT), "--endpoint", endpoint, "--token", token(MEMBER), *argv]) + "; echo EXIT=$?"


def test_wait_shows_live_progress_in_a_terminal(terminal: Terminal, endpoint: str, active: str, nova_as) -> None:  # type: ignore[no-untyped-def]
    terminal.type(command(endpoint, "task", "start", active, "POWER_OFF", "--wait"))
    frames = terminal.watch(lambda screen: bool(re.search(r"EXIT=\d", screen)))
    running = [f for f in frames if re.search(r"POWER_OFF\s+RUNNING\s+\d+\.\ds", f)]
    assert running, "the display showed the task RUNNING, with the time elapsed"
    final = frames[-1]
    assert "EXIT=0" in final
    assert re.search(r"POWER_OFF\s+COMPLETED\s+\d+\.\ds\s+task [0-9a-f-]{36}\s+server " + active, final)
    assert re.search(r"POWERING_OFF\s+COMPLETED\s+started \d\d:\d\d:\d\d", final), final
    # Drawn in place: the task's line is on the final screen once, not once per poll.
    assert len(re.findall(r"POWER_OFF\s+(?:RUNNING|COMPLETED)", final)) == 1, final
    assert nova_server(nova_as, active)["OS-EXT-STS:vm_state"] == "stopped"


def test_ctrl_c_stops_waiting_and_the_task_still_completes(  # type: ignore[no-untyped-def]
    terminal: Terminal, endpoint: str, active: str, vnext: Run, nova_as
) -> None:
    # A long pause between polls: Ctrl-C lands while the CLI waits, whatever Nova's speed.
    terminal.type(command(endpoint, "task", "start", active, "POWER_OFF", "--wait", "--poll-interval", "30"))
    frames = terminal.watch(lambda screen: bool(re.search(r"POWER_OFF\s+RUNNING", screen)))
    task_id = re.findall(r"task ([0-9a-f-]{36})", frames[-1])[-1]
    terminal.tmux("send-keys", "-t", "cli", "C-c")
    final = terminal.watch(lambda screen: bool(re.search(r"EXIT=\d", screen)), timeout=20)[-1]
    assert "EXIT=130" in final
    assert "Stopped waiting; the task goes on in the cloud. Follow with:" in final
    assert f"vnext --endpoint {endpoint} task show {task_id} --wait" in final
    assert token(MEMBER) not in final.split("Follow with:")[1].split("EXIT=1")[0], "the token is never printed"
    # The task goes on without the CLI: Nova stops the server, and the proxy's task completes.
    until("Nova to stop the server", lambda: nova_server(nova_as, active)["OS-EXT-STS:vm_state"] == "stopped")
    followed = vnext("task", "show", task_id, "--wait", "-f", "json")
    assert followed.returncode == 0, followed.stderr
    assert json.loads(followed.stdout)["state"] == "COMPLETED"
