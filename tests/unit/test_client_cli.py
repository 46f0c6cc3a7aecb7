"""The ``vnext`` CLI against a scripted stand-in of the proxy (and of
Keystone), over real HTTP: what it asks, what it prints, how it exits."""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from fuzz import ServingThread
from rich.console import Console

from vnext_proxy.client import progress
from vnext_proxy.client.cli import main
from vnext_proxy.client.connect import Options, connect

TOKEN = "scripted-token"
PROJECT = "6f70656e737461636b20342065766572"
SERVER = "4ddd7775-389e-48cf-b7d3-05ee38648c8c"
TASK = "4b7751da-7665-49ea-82d1-3782cd4b228a"
TYPE_ID = "f56387ad-14a3-5f59-8f2a-0ae85d0736f3"
KEYPAIR_ID = "44b8211d-e046-5dae-902f-8e8e72c1a8af"
IMAGE = "155d900f-4e14-4e4c-a73d-069cbf4541e6"


def server(number: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"00000000-0000-4000-8000-00000000000{number}",
        "hostname": f"web-{number}",
        "virt_state": "ACTIVE",
        "power_state": "RUNNING",
        "launched_at": "2026-11-30T14:55:30Z",
        "spec": {"memory_mb": 512, "cpu_units": 1},
        "networking": {"interfaces": {"eth0": {"mac": "00:0c:29:0d:11:74", "ip4": f"192.168.1.{number}"}},
                       "access": {"ip4": [], "ip6": []}},
        "_links": {"self": {"href": f"/servers/00000000-0000-4000-8000-00000000000{number}"}},
        **extra,
    }  # fmt: skip


def task(state: str, action: str = "POWER_OFF", reason: str | None = None) -> dict[str, Any]:
    return {
        "id": TASK, "server_id": SERVER, "action": action, "state": state, "reason": reason,
        "created_at": "2026-11-30T14:55:30Z", "created_by": "a1", "ended_at": None,
        "_links": {"self": {"href": f"/server_tasks/{TASK}"}},
    }  # fmt: skip


def item(state: str, action: str = "POWERING_OFF") -> dict[str, Any]:
    ended = "2026-11-30T14:55:32Z" if state != "RUNNING" else None
    return {"id": "ed25607e-591e-56d2-b62c-403f3b62215a", "task_id": TASK, "action": action, "state": state,
            "created_at": "2026-11-30T14:55:30Z", "started_at": "2026-11-30T14:55:30Z", "ended_at": ended}  # fmt: skip


def error(status: int, title: str, message: str, **extra: Any) -> tuple[int, dict[str, Any]]:
    return status, {"error": {"code": status, "title": title, "message": message, "request_id": "req-abc", **extra}}


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class StandIn:
    """The proxy, scripted: each (method, path with query) answers its list
    of (status, body) in turn, repeating the last; anything else is 404."""

    base: str = ""
    answers: dict[tuple[str, str], list[tuple[Any, ...]]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)

    def on(self, method: str, path: str, *answers: tuple[Any, ...]) -> None:
        """Each answer is (status, body) or (status, body, headers)."""
        self.answers[(method, path)] = list(answers)

    def paths(self, method: str = "GET") -> list[str]:
        return [s.path for s in self.seen if s.method == method]

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else None
        self.seen.append(Seen(request.method, request.raw_path, dict(request.headers), body))
        queue = self.answers.get((request.method, request.raw_path))
        if not queue:
            status, answer = error(404, "Not Found", f"not scripted: {request.method} {request.raw_path}")
            extra: dict[str, str] = {}
        else:
            status, answer, *more = queue.pop(0) if len(queue) > 1 else queue[0]
            extra = more[0] if more else {}
        headers = {"X-OpenStack-Request-ID": "req-from-header", **extra}
        if isinstance(answer, str):
            return web.Response(status=status, text=answer, headers=headers)
        return web.json_response(answer, status=status, headers=headers)


@pytest.fixture(scope="module")
def thread() -> Iterator[ServingThread]:
    serving = ServingThread()
    try:
        yield serving
    finally:
        serving.close()


@pytest.fixture
def standin(thread: ServingThread) -> StandIn:
    scripted = StandIn()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", scripted.handle)
    scripted.base = thread.serve(app)
    return scripted


@pytest.fixture(autouse=True)
def no_openstack_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The tests' own configuration only: none of the machine's OS_* variables or clouds.yaml."""
    import os

    for name in list(os.environ):
        if name.startswith(("OS_", "VNEXT_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """--wait's pauses, recorded instead of slept."""
    slept: list[float] = []
    monkeypatch.setattr(progress, "pause", slept.append)
    return slept


def vnext(capsys: pytest.CaptureFixture[str], standin: StandIn, *argv: str) -> tuple[int, str, str]:
    """Run the CLI in this process, with the stand-in as a static endpoint."""
    code = main([*argv, "--endpoint", standin.base, "--token", TOKEN])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_servers_list_follows_the_pages_and_prints_a_table(capsys, standin: StandIn) -> None:  # type: ignore[no-untyped-def]
    next_page = {"next": {"href": "/servers?limit=2&marker=m"}}
    standin.on("GET", "/servers", (200, {"servers": [server(1), server(2)], "_links": next_page}))
    standin.on("GET", "/servers?limit=2&marker=m", (200, {"servers": [server(3)], "_links": {}}))
    code, out, err = vnext(capsys, standin, "servers", "list")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "HOSTNAME", "VIRT_STATE", "POWER_STATE", "ADDRESSES", "LAUNCHED_AT"]
    assert [line.split()[1] for line in lines[2:]] == ["web-1", "web-2", "web-3"]
    assert lines[2].split()[4] == "192.168.1.1"
    assert all(line == line.rstrip() for line in lines), "a piped table has no trailing padding"
    assert {s.headers["X-Auth-Token"] for s in standin.seen} == {TOKEN}

    code, out, _ = vnext(capsys, standin, "-f", "json", "servers", "list")
    assert code == 0
    assert [s["hostname"] for s in json.loads(out)] == ["web-1", "web-2", "web-3"]


def test_servers_list_limit_and_project(capsys, standin: StandIn) -> None:  # type: ignore[no-untyped-def]
    more = {"next": {"href": f"/projects/{PROJECT}/servers?limit=1&marker=x"}}
    standin.on("GET", f"/projects/{PROJECT}/servers?limit=1", (200, {"servers": [server(1)], "_links": more}))
    code, out, _ = vnext(capsys, standin, "servers", "list", "--project", PROJECT, "--limit", "1", "-f", "json")
    assert code == 0
    assert [s["id"] for s in json.loads(out)] == [server(1)["id"]]
    assert standin.paths() == [f"/projects/{PROJECT}/servers?limit=1"], "no page past the limit is asked for"


def test_servers_show_by_id_and_by_hostname(capsys, standin: StandIn) -> None:  # type: ignore[no-untyped-def]
    one = server(1, tags=["a", "b"], properties={})
    standin.on("GET", f"/servers/{one['id']}", (200, one))
    code, out, _ = vnext(capsys, standin, "servers", "show", one["id"])
    assert code == 0
    rows = {line.split()[0]: line.split()[1:] for line in out.splitlines()[2:]}
    assert rows["hostname"] == ["web-1"]
    assert rows["spec.memory_mb"] == ["512"]
    assert rows["networking.interfaces.eth0.ip4"] == ["192.168.1.1"]
    assert rows["tags"] == ["a,", "b"]
    assert "_links" not in out

    # A hostname is one path segment, whatever it holds.
    standin.on("GET", f"/projects/{PROJECT}/servers/web%2F1", (200, one))
    code, out, _ = vnext(capsys, standin, "servers", "show", "web/1", "--project", PROJECT, "-f", "json")
    assert code == 0
    assert json.loads(out) == one

    # ".." is sent as it is, not resolved into another route: the proxy refuses it.
    code, _, err = vnext(capsys, standin, "servers", "show", "..", "--project", PROJECT)
    assert code == 1
    assert standin.paths()[-1] == f"/projects/{PROJECT}/servers/.."

    code, _, err = vnext(capsys, standin, "servers", "show", "web-1")
    assert code == 1
    assert "--project" in err, "a static token does not say which project a hostname is in"


def test_an_error_prints_the_proxys_message_and_request_id_and_exits_1(capsys, standin: StandIn) -> None:  # type: ignore[no-untyped-def]
    standin.on("GET", f"/servers/{SERVER}", error(404, "Not Found", f"Instance {SERVER} could not be found."))
    code, out, err = vnext(capsys, standin, "servers", "show", SERVER)
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        f"error: 404 Not Found: Instance {SERVER} could not be found.",
        "request id: req-abc",
    ]

    # Something in front of the proxy answering: its text, and the request id of the header.
    standin.on("GET", "/keypairs", (502, "<html>Bad Gateway</html>"))
    code, _, err = vnext(capsys, standin, "keypairs", "list")
    assert code == 1
    assert "error: 502 Bad Gateway: <html>Bad Gateway</html>" in err
    assert "request id: req-from-header" in err


def test_launch_sends_defaults_and_one_server_per_hostname(capsys, standin: StandIn) -> None:  # type: ignore[no-untyped-def]
    standin.on("GET", "/server_types/m1.tiny", (200, {"id": TYPE_ID, "name": "m1.tiny"}))
    standin.on("GET", "/keypairs/my%20key", (200, {"id": KEYPAIR_ID, "name": "my key"}))
    launched = [
        {"id": SERVER, "launched_at": "2026-11-30T14:55:30Z",
         "_links": {"self": {"href": f"/servers/{SERVER}"}, "rel/server_task": {"href": f"/server_tasks/{TASK}"}}},
    ]  # fmt: skip
    standin.on("POST", f"/projects/{PROJECT}/servers", (202, launched))
    code, out, err = vnext(
        capsys, standin, "launch", "--project", PROJECT, "--type", "m1.tiny", "--template", IMAGE,
        "--keypair", "my key", "--hostname", "db-1", "db-2", "--idempotency-key", "run-7",
    )  # fmt: skip
    assert (code, err) == (0, "")
    post = next(s for s in standin.seen if s.method == "POST")
    assert post.body == {
        "defaults": {"type_id": TYPE_ID, "template_id": IMAGE, "keypair_id": KEYPAIR_ID},
        "servers": [{"hostname": "db-1"}, {"hostname": "db-2"}],
    }
    assert post.headers["Idempotency-Key"] == "run-7"
    assert out.splitlines()[0].split() == ["SERVER", "TASK", "LAUNCHED_AT"]
    assert out.splitlines()[2].split() == [SERVER, TASK, "2026-11-30T14:55:30Z"]

    # Ids are used as they are; --count servers named by the pattern.
    standin.seen.clear()
    code, out, _ = vnext(
        capsys, standin, "launch", "--project", PROJECT, "--type", TYPE_ID, "--template", IMAGE,
        "--keypair", KEYPAIR_ID, "--hostname-pattern", "web-%(rand_num)4d", "--count", "3", "-f", "json",
    )  # fmt: skip
    assert code == 0
    assert json.loads(out) == launched
    assert [s.method for s in standin.seen] == ["POST"]
    assert standin.seen[0].body["defaults"]["hostname_pattern"] == "web-%(rand_num)4d"
    assert standin.seen[0].body["servers"] == [{}, {}, {}]
    assert "Idempotency-Key" not in standin.seen[0].headers


def test_launch_wait_follows_every_create_task(capsys, standin: StandIn, sleeps: list[float]) -> None:  # type: ignore[no-untyped-def]
    ids = [(f"00000000-0000-4000-8000-00000000000{n}", f"00000000-0000-4000-9000-00000000000{n}") for n in (1, 2)]
    launched = [{"id": s, "launched_at": "2026-11-30T14:55:30Z", "_links": {"rel/server_task": {"href": f"/server_tasks/{t}"}}}
                for s, t in ids]  # fmt: skip
    standin.on("POST", f"/projects/{PROJECT}/servers", (202, launched))
    for number, (server_id, task_id) in enumerate(ids):
        running = {**task("RUNNING", "CREATE"), "id": task_id, "server_id": server_id}
        # The second server takes one poll longer.
        standin.on(
            "GET",
            f"/server_tasks/{task_id}",
            *[(200, running)] * (2 + number),
            (200, {**running, "state": "COMPLETED"}),
        )
        standin.on(
            "GET",
            f"/server_tasks/{task_id}/items",
            (200, {"items": [{**item("COMPLETED", "SPAWNING"), "task_id": task_id}]}),
        )
    code, out, err = vnext(
        capsys, standin, "launch", "--project", PROJECT, "--type", TYPE_ID, "--template", IMAGE,
        "--keypair", KEYPAIR_ID, "--hostname", "a", "b",
        "--wait",
    )  # fmt: skip
    assert (code, err) == (0, "")
    lines = out.splitlines()
    ended = [line for line in lines if line.endswith(": COMPLETED") and line.split()[1] == "task"]
    assert [line.split()[2] for line in ended] == [ids[0][1], ids[1][1]], "the first ends first"
    table = lines[lines.index(next(line for line in lines if line.startswith("SERVER"))) :]
    assert table[0].split() == ["SERVER", "TASK", "STATE", "LAUNCHED_AT"]
    assert [row.split()[:3] for row in table[2:]] == [[s, t, "COMPLETED"] for s, t in ids]
    # Ended tasks are not asked again: the first's is read 3 times, the second's 4.
    assert [standin.paths().count(f"/server_tasks/{t}") for _, t in ids] == [3, 4]


def test_a_refused_launch_lists_every_problem(capsys, standin: StandIn) -> None:  # type: ignore[no-untyped-def]
    problems = [{"field": "servers[0].hostname", "message": "a hostname is required (or defaults.hostname_pattern)"},
                {"field": "servers[1].hostname", "message": "'x' is already used in this project"}]  # fmt: skip
    standin.on("POST", f"/projects/{PROJECT}/servers",
               error(400, "Bad Request", "2 problem(s); nothing was launched", problems=problems))  # fmt: skip
    code, _, err = vnext(
        capsys, standin, "launch", "--project", PROJECT, "--type", TYPE_ID, "--template", IMAGE,
        "--keypair", KEYPAIR_ID, "--count", "2",
    )  # fmt: skip
    assert code == 1
    assert err.splitlines() == [
        "error: 400 Bad Request: 2 problem(s); nothing was launched",
        "  servers[0].hostname: a hostname is required (or defaults.hostname_pattern)",
        "  servers[1].hostname: 'x' is already used in this project",
        "request id: req-abc",
    ]


def test_launch_needs_a_project_with_a_static_token(capsys, standin: StandIn) -> None:  # type: ignore[no-untyped-def]
    code, _, err = vnext(capsys, standin, "launch", "--type", TYPE_ID, "--template", IMAGE, "--keypair", KEYPAIR_ID)
    assert code == 1
    assert "--project" in err
    assert standin.seen == []


def test_task_start_sends_the_action_and_its_params(capsys, standin: StandIn) -> None:  # type: ignore[no-untyped-def]
    standin.on("POST", f"/servers/{SERVER}/tasks", (202, task("RUNNING", "BACKUP")))
    code, out, _ = vnext(
        capsys, standin, "task", "start", SERVER, "backup", "--param", "name=nightly=1",
        "--param", "backup_type=daily", "--param", "rotation:=2", "--param", "live:=true", "-f", "json",
    )  # fmt: skip
    assert code == 0
    assert json.loads(out)["state"] == "RUNNING"
    body = next(s.body for s in standin.seen if s.method == "POST")
    assert body == {"action": "BACKUP", "name": "nightly=1", "backup_type": "daily", "rotation": 2, "live": True}


@pytest.mark.parametrize(
    ("option", "value"),
    [("--param", "novalue"), ("--param", "=x"), ("--param", "n:={not json"), ("--poll-interval", "0.1"),
     ("--poll-interval", "nan")],
)  # fmt: skip
def test_a_malformed_option_is_a_usage_error(capsys, standin: StandIn, option: str, value: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as exited:
        main(["task", "start", SERVER, "REBOOT", option, value, "--endpoint", standin.base, "--token", TOKEN])
    assert exited.value.code == 2
    assert option in capsys.readouterr().err
    assert standin.seen == []


def script_a_power_off(standin: StandIn, end: str = "COMPLETED", reason: str | None = None) -> None:
    """POST answers RUNNING; the task ends on its second read; its item arrives, then ends."""
    standin.on("POST", f"/servers/{SERVER}/tasks", (202, task("RUNNING")))
    standin.on("GET", f"/server_tasks/{TASK}", (200, task("RUNNING")), (200, task(end, reason=reason)))
    items = f"/server_tasks/{TASK}/items"
    standin.on("GET", items, (200, {"items": []}), (200, {"items": [item("RUNNING")]}),
               (200, {"items": [item("ABORTED" if end != "COMPLETED" else "COMPLETED")]}))  # fmt: skip


def test_wait_prints_plain_lines_when_stdout_is_not_a_terminal(capsys, standin: StandIn, sleeps: list[float]) -> None:  # type: ignore[no-untyped-def]
    script_a_power_off(standin)
    code, out, err = vnext(capsys, standin, "task", "start", SERVER, "POWER_OFF", "--wait")
    assert (code, err) == (0, "")
    events = [line.split(None, 1)[1] for line in out.splitlines()]
    assert events == [
        f"task {TASK} POWER_OFF on server {SERVER}: RUNNING",
        f"item POWERING_OFF of task {TASK}: RUNNING",
        f"item POWERING_OFF of task {TASK}: COMPLETED",
        f"task {TASK} POWER_OFF on server {SERVER}: COMPLETED",
    ]
    assert "\x1b" not in out, "no terminal control codes in a pipe"
    # Gently: one pause of a second between polls, none after the end.
    assert sleeps == [1.0, 1.0]
    assert standin.paths().count(f"/server_tasks/{TASK}") == 2
    assert [s.method for s in standin.seen].count("POST") == 1


def test_wait_with_json_keeps_stdout_for_the_json(capsys, standin: StandIn, sleeps: list[float]) -> None:  # type: ignore[no-untyped-def]
    script_a_power_off(standin)
    code, out, err = vnext(capsys, standin, "task", "start", SERVER, "POWER_OFF", "--wait", "-f", "json")
    assert code == 0
    final = json.loads(out)
    assert final["state"] == "COMPLETED"
    assert [(i["action"], i["state"]) for i in final["items"]] == [("POWERING_OFF", "COMPLETED")]
    assert err.splitlines()[-1].endswith(": COMPLETED"), "the progress went to stderr"


def test_a_task_that_does_not_complete_exits_1_with_its_reason(capsys, standin: StandIn, sleeps: list[float]) -> None:  # type: ignore[no-untyped-def]
    script_a_power_off(standin, end="ABORTED", reason="POWERING_OFF failed: the hypervisor went away")
    code, out, err = vnext(capsys, standin, "task", "start", SERVER, "POWER_OFF", "--wait")
    assert code == 1
    assert out.splitlines()[-1].endswith("ABORTED (POWERING_OFF failed: the hypervisor went away)")
    assert err == f"error: task {TASK} (POWER_OFF) ended ABORTED: POWERING_OFF failed: the hypervisor went away\n"


def test_ctrl_c_stops_waiting_not_the_task(capsys, standin: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    script_a_power_off(standin)

    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(progress, "pause", interrupted)
    code, out, err = vnext(capsys, standin, "task", "start", SERVER, "POWER_OFF", "--wait")
    assert code == 130
    assert out.splitlines()[0].endswith(": RUNNING")
    assert "Stopped waiting; the task goes on" in err
    assert f"vnext --endpoint {standin.base} task show {TASK} --wait" in err
    assert TOKEN not in err, "the token is never printed"
    # Nothing was asked of the task after Ctrl-C: no DELETE, no second POST.
    assert [s.method for s in standin.seen] == ["POST", "GET"]


def test_task_show_and_list(capsys, standin: StandIn, sleeps: list[float]) -> None:  # type: ignore[no-untyped-def]
    done = {**task("COMPLETED"), "ended_at": "2026-11-30T14:55:32Z"}
    standin.on("GET", f"/server_tasks/{TASK}", (200, done))
    standin.on("GET", f"/server_tasks/{TASK}/items", (200, {"items": [item("COMPLETED")]}))
    code, out, _ = vnext(capsys, standin, "task", "show", TASK)
    assert code == 0
    assert ["state", "COMPLETED"] in [line.split() for line in out.splitlines()]
    assert any(line.split()[:2] == ["POWERING_OFF", "COMPLETED"] for line in out.splitlines())
    code, out, _ = vnext(capsys, standin, "task", "show", TASK, "-f", "json")
    assert json.loads(out) == {**done, "items": [item("COMPLETED")]}

    # --wait on an ended task: one look, no pause.
    code, out, _ = vnext(capsys, standin, "task", "show", TASK, "--wait")
    assert code == 0
    assert out.splitlines()[-1].endswith(": COMPLETED")
    assert sleeps == []

    standin.on("GET", f"/servers/{SERVER}/tasks", (200, {"tasks": [done, {**done, "action": "CREATE"}]}))
    code, out, _ = vnext(capsys, standin, "task", "list", SERVER)
    assert code == 0
    assert [line.split()[1:3] for line in out.splitlines()[2:]] == [["POWER_OFF", "COMPLETED"], ["CREATE", "COMPLETED"]]


def test_types_keypairs_and_groups(capsys, standin: StandIn) -> None:  # type: ignore[no-untyped-def]
    standin.on("GET", "/server_types", (200, {"server_types": [
        {"id": TYPE_ID, "name": "m1.tiny", "visibility": "PUBLIC", "spec": {"memory_mb": 512, "cpu_units": 1,
                                                                             "root_disk_gb": 1}}]}))  # fmt: skip
    code, out, _ = vnext(capsys, standin, "types", "list")
    assert out.splitlines()[2].split() == [TYPE_ID, "m1.tiny", "512", "1", "1", "PUBLIC"]

    # A fingerprint is shown as it is: no markup, no emoji codes (":ab:").
    fingerprint = "d1:bc:66:33:e8:94:a1:f8:4f:85:91:ab:15:9f:e3:82"
    standin.on("GET", "/keypairs", (200, {"keypairs": [
        {"id": KEYPAIR_ID, "name": "[bold]k[/bold]", "type": "ssh", "fingerprint": fingerprint}]}))  # fmt: skip
    code, out, _ = vnext(capsys, standin, "keypairs", "list")
    assert out.splitlines()[2].split() == [KEYPAIR_ID, "[bold]k[/bold]", "ssh", fingerprint]

    standin.on("GET", f"/projects/{PROJECT}/server_groups", (200, {"server_groups": [
        {"id": SERVER, "name": "web", "description": "front", "tags": ["x", "y"]}]}))  # fmt: skip
    code, out, _ = vnext(capsys, standin, "groups", "list", "--project", PROJECT)
    assert (code, out.splitlines()[2].split()) == (0, [SERVER, "web", "front", "x,", "y"])
    code, _, err = vnext(capsys, standin, "groups", "list")
    assert code == 1
    assert "--project" in err


def test_the_live_display_on_a_terminal(standin: StandIn, sleeps: list[float]) -> None:
    """On a terminal: redrawn in place, each frame with the state, the elapsed time and the items."""
    script_a_power_off(standin)
    screen = io.StringIO()
    terminal = Console(file=screen, force_terminal=True, width=160, markup=False, emoji=False)
    client = connect(Options(endpoint=standin.base, token=TOKEN))
    first = client.post(f"/servers/{SERVER}/tasks", {"action": "POWER_OFF"})
    ticks = iter(range(100))
    display = progress.display_for(terminal, clock=lambda: float(next(ticks)))
    assert isinstance(display, progress.LiveBoard)
    ended = progress.wait_for(client, [first], display)
    assert ended[0]["state"] == "COMPLETED"
    drawn = screen.getvalue()
    assert "\x1b[" in drawn, "a live display moves the cursor"
    assert "POWER_OFF" in drawn
    assert "RUNNING" in drawn.split("COMPLETED")[0], "RUNNING is shown before COMPLETED"
    final = drawn.rsplit("POWER_OFF", 1)[1]
    assert "COMPLETED" in final
    assert "POWERING_OFF" in final
    assert "took 2s" in final


@pytest.fixture
def keystone(standin: StandIn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in Keystone on the stand-in's /identity: version discovery and
    password sign-in, with a catalog whose compute-vnext endpoint is the
    stand-in under /vnext. The clouds.yaml that names it."""
    identity = f"{standin.base}/identity/v3"
    standin.on("GET", "/identity/v3", (200, {"version": {
        "id": "v3.14", "status": "stable", "links": [{"rel": "self", "href": f"{identity}/"}]}}))  # fmt: skip
    catalog = [{"type": "compute-vnext", "name": "vnext-proxy", "id": "v", "endpoints": [
        {"id": "v1", "interface": "public", "region": "RegionOne", "region_id": "RegionOne",
         "url": f"{standin.base}/vnext"}]}]  # fmt: skip
    token = {"token": {
        "methods": ["password"], "expires_at": "2099-01-01T00:00:00.000000Z", "catalog": catalog,
        "user": {"id": "u1", "name": "alice", "domain": {"id": "default", "name": "Default"}},
        "project": {"id": PROJECT, "name": "project-a", "domain": {"id": "default", "name": "Default"}},
        "roles": [{"id": "member", "name": "member"}]}}  # fmt: skip
    standin.on("POST", "/identity/v3/auth/tokens", (201, token, {"X-Subject-Token": "issued-by-keystone"}))
    # Not in the working directory: openstacksdk reads clouds.yaml from the
    # one it was imported in, which may be another test's tmp_path.
    clouds = tmp_path / "etc" / "clouds.yaml"
    clouds.parent.mkdir()
    lab = {"auth_type": "password", "region_name": "RegionOne", "auth": {
        "auth_url": identity, "username": "alice", "password": "secret", "project_name": "project-a",
        "user_domain_name": "Default", "project_domain_name": "Default"}}  # fmt: skip
    clouds.write_text(json.dumps({"clouds": {"lab": lab}}))
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(clouds))
    return clouds


def test_clouds_yaml_finds_the_proxy_in_the_catalog(capsys, standin: StandIn, keystone: Path) -> None:  # type: ignore[no-untyped-def]
    standin.on("GET", f"/vnext/projects/{PROJECT}/server_groups", (200, {"server_groups": []}))
    code = main(["--os-cloud", "lab", "groups", "list", "-f", "json"])
    assert (code, *capsys.readouterr()) == (0, "[]\n", "")
    signin = next(s for s in standin.seen if s.method == "POST")
    assert signin.body["auth"]["identity"]["password"]["user"]["name"] == "alice"
    # The project is the credentials' own, and the call carries the token Keystone issued.
    listed = standin.seen[-1]
    assert listed.path == f"/vnext/projects/{PROJECT}/server_groups"
    assert listed.headers["X-Auth-Token"] == "issued-by-keystone"

    # Another service type: the catalog has none, and the message says what to do.
    code = main(["--os-cloud", "lab", "--service-type", "compute-next", "groups", "list"])
    err = capsys.readouterr().err
    assert code == 1
    assert "the catalog has no 'compute-next' endpoint (public, RegionOne)" in err
    assert "--service-type" in err


def test_the_os_variables_name_a_cloud_too(capsys, standin: StandIn, keystone: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("OS_CLIENT_CONFIG_FILE")
    for name, value in {"OS_AUTH_URL": f"{standin.base}/identity/v3", "OS_USERNAME": "alice",
                        "OS_PASSWORD": "secret", "OS_PROJECT_NAME": "project-a", "OS_USER_DOMAIN_NAME": "Default",
                        "OS_PROJECT_DOMAIN_NAME": "Default", "OS_REGION_NAME": "RegionOne"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    standin.on("GET", "/vnext/keypairs", (200, {"keypairs": []}))
    assert main(["keypairs", "list", "-f", "json"]) == 0
    assert capsys.readouterr().out == "[]\n"
    assert standin.seen[-1].path == "/vnext/keypairs"


def test_an_endpoint_override_in_clouds_yaml(capsys, standin: StandIn, keystone: Path) -> None:  # type: ignore[no-untyped-def]
    config = json.loads(keystone.read_text())
    config["clouds"]["lab"]["compute_vnext_endpoint_override"] = f"{standin.base}/elsewhere"
    keystone.write_text(json.dumps(config))
    standin.on("GET", "/elsewhere/keypairs", (200, {"keypairs": []}))
    assert main(["--os-cloud", "lab", "keypairs", "list", "-f", "json"]) == 0
    assert standin.seen[-1].path == "/elsewhere/keypairs"


def test_a_token_is_not_mixed_with_a_cloud(capsys, standin: StandIn, keystone: Path) -> None:  # type: ignore[no-untyped-def]
    code = main(["--os-cloud", "lab", "--token", "t", "keypairs", "list"])
    assert code == 1
    assert "--token and --os-cloud" in capsys.readouterr().err
    assert standin.seen == []


def test_no_configuration_says_how_to_give_one(capsys, standin: StandIn) -> None:  # type: ignore[no-untyped-def]
    assert main(["servers", "list"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot sign in with the OS_* variables and clouds.yaml")
    assert "--os-cloud" in err
    assert "--endpoint and --token" in err
    assert main(["servers", "list", "--endpoint", standin.base]) == 1
    assert "give --token (or OS_TOKEN) with --endpoint" in capsys.readouterr().err
    assert standin.seen == []


def test_os_token_serves_a_static_endpoint(capsys, standin: StandIn, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("OS_TOKEN", "from-the-environment")
    monkeypatch.setenv("VNEXT_ENDPOINT", standin.base)
    standin.on("GET", "/keypairs", (200, {"keypairs": []}))
    assert main(["keypairs", "list", "-f", "json"]) == 0
    assert standin.seen[-1].headers["X-Auth-Token"] == "from-the-environment"


def test_without_openstacksdk_a_static_endpoint_still_works(capsys, standin: StandIn, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """openstacksdk is the `client` extra: without it, --endpoint and --token
    work, and a cloud says which package is missing."""
    monkeypatch.setitem(sys.modules, "openstack", None)
    assert main(["--os-cloud", "lab", "keypairs", "list"]) == 1
    assert "pip install 'vnext-proxy[client]'" in capsys.readouterr().err
    standin.on("GET", "/keypairs", (200, {"keypairs": []}))
    code, out, _ = vnext(capsys, standin, "keypairs", "list", "-f", "json")
    assert (code, out) == (0, "[]\n")


def test_an_unreachable_proxy_is_one_line_and_exit_1(capsys) -> None:  # type: ignore[no-untyped-def]
    from helpers import refused_port

    with refused_port() as port:
        code = main(["servers", "list", "--endpoint", f"http://127.0.0.1:{port}", "--token", TOKEN, "--timeout", "5"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith(f"error: cannot reach the vNext endpoint http://127.0.0.1:{port}")
    assert len(err.splitlines()) == 1


def test_options_go_before_or_after_the_command(capsys, standin: StandIn) -> None:  # type: ignore[no-untyped-def]
    standin.on("GET", "/keypairs", (200, {"keypairs": []}))
    before = main(["-f", "json", "--endpoint", standin.base, "--token", TOKEN, "keypairs", "list"])
    assert (before, capsys.readouterr().out) == (0, "[]\n")
    after = main(["keypairs", "list", "--endpoint", standin.base, "--token", TOKEN, "-f", "json"])
    assert (after, capsys.readouterr().out) == (0, "[]\n")
    assert len(standin.seen) == 2


def test_plain_lines_put_a_running_task_before_its_items_and_an_ended_one_after() -> None:
    """A first poll that comes late (a loaded Nova) already finds items."""
    out = io.StringIO()
    lines = progress.PlainLines(Console(file=out), clock=lambda: 0.0)
    task = {"id": "t1", "action": "POWER_OFF", "server_id": "s1", "state": "RUNNING"}
    item = {"id": "i1", "action": "POWERING_OFF", "state": "RUNNING"}
    lines.show([task], {"t1": [item]})
    lines.show([{**task, "state": "COMPLETED"}], {"t1": [{**item, "state": "COMPLETED"}]})
    shown = [line.split(None, 1)[1] for line in out.getvalue().splitlines()]
    assert shown == [
        "task t1 POWER_OFF on server s1: RUNNING",
        "item POWERING_OFF of task t1: RUNNING",
        "item POWERING_OFF of task t1: COMPLETED",
        "task t1 POWER_OFF on server s1: COMPLETED",
    ]
