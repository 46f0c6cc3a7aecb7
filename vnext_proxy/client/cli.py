"""The ``vnext`` command: the vNext API from the shell, for people moving
scripts off Nova's v2.1 API. Tables for people, ``-f json`` for scripts."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from rich.console import Console

from vnext_proxy import __version__
from vnext_proxy.client import output
from vnext_proxy.client.api import ApiError, ClientError, VNext, is_uuid, path
from vnext_proxy.client.connect import DEFAULT_SERVICE_TYPE, Options, connect
from vnext_proxy.client.progress import ENDED, POLL_INTERVAL, display_for, wait_for

DESCRIPTION = """\
The vNext API from the shell, for scripts moving off Nova's v2.1 API.
Tables for people; -f json prints the proxy's JSON, for scripts."""

#: The shortest pause --poll-interval takes.
MIN_POLL_INTERVAL = 0.5
#: The exit status of a command stopped with Ctrl-C, as a shell reports it.
INTERRUPTED = 130

EPILOG = """\
Finding the proxy: --endpoint URL with --token (or OS_TOKEN) talks to that URL
with that token. Otherwise the cloud of clouds.yaml or the OS_* variables
(--os-cloud, OS_CLOUD) signs in through Keystone, and the proxy is its
catalog's endpoint of --service-type (default compute-vnext), or --endpoint.
Errors print the proxy's message and request id, and exit with status 1.
"""


class StoppedWaiting(Exception):
    """Ctrl-C while waiting: the tasks go on without us."""

    def __init__(self, tasks: list[dict[str, Any]]) -> None:
        super().__init__("stopped waiting")
        self.tasks = tasks


def _common_options() -> argparse.ArgumentParser:
    """Options taken before or after the command (``vnext -f json servers
    list`` and ``vnext servers list -f json``); SUPPRESS keeps a later
    parser from resetting what an earlier one was given."""
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("connection and output")
    group.add_argument("--os-cloud", default=argparse.SUPPRESS, help="the cloud in clouds.yaml (default: OS_CLOUD)")
    group.add_argument("--os-region-name", default=argparse.SUPPRESS, help="the region of the catalog to use")
    group.add_argument("--os-interface", default=argparse.SUPPRESS, help="public, internal or admin")
    group.add_argument(
        "--service-type",
        default=argparse.SUPPRESS,
        help=f"the proxy's type in the catalog (default: VNEXT_SERVICE_TYPE or {DEFAULT_SERVICE_TYPE})",
    )
    group.add_argument(
        "--endpoint", default=argparse.SUPPRESS, help="the proxy's root URL, instead of the catalog's (VNEXT_ENDPOINT)"
    )
    group.add_argument(
        "--token", default=argparse.SUPPRESS, help="a token for --endpoint (default: OS_TOKEN); not for --os-cloud"
    )
    group.add_argument("--timeout", type=float, default=argparse.SUPPRESS, help="seconds per HTTP request (60)")
    group.add_argument(
        "-f", "--format", choices=["table", "json"], default=argparse.SUPPRESS, help="table (default) or json"
    )
    group.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="log the HTTP calls to stderr")
    return common


def _waiting_options() -> argparse.ArgumentParser:
    waiting = argparse.ArgumentParser(add_help=False)
    waiting.add_argument("--wait", action="store_true", help="show the task's progress until it ends")
    waiting.add_argument(
        "--poll-interval",
        type=_interval,
        default=POLL_INTERVAL,
        metavar="SECONDS",
        help=f"how often --wait asks the proxy (default {POLL_INTERVAL:g})",
    )
    return waiting


def _param(value: str) -> tuple[str, Any]:
    """``key=text`` is a string; ``key:=JSON`` a JSON value (``live:=true``, ``rotation:=2``)."""
    key, sep, raw = value.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{value!r} is not key=value or key:=JSON")
    if key.endswith(":"):
        try:
            return key[:-1], json.loads(raw)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{value!r}: not JSON after ':=' ({exc})") from exc
    return key, raw


def _interval(value: str) -> float:
    seconds = float(value)
    # Every poll is two GETs the proxy passes on to Nova: never hammer it.
    if not seconds >= MIN_POLL_INTERVAL:
        raise argparse.ArgumentTypeError(f"at least {MIN_POLL_INTERVAL:g} seconds")
    return seconds


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return number


def build_parser(prog: str = "vnext") -> argparse.ArgumentParser:
    common, waiting = _common_options(), _waiting_options()
    parser = argparse.ArgumentParser(
        prog=prog,
        description=DESCRIPTION,
        epilog=EPILOG,
        parents=[common],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def leaf(group: Any, name: str, summary: str, *parents: argparse.ArgumentParser) -> argparse.ArgumentParser:
        found: argparse.ArgumentParser = group.add_parser(name, help=summary, parents=[common, *parents])
        return found

    servers = commands.add_parser("servers", help="list and show servers").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    listing = leaf(servers, "list", "the servers the caller can see (GET /servers)")
    listing.add_argument("--project", help="only this project's (GET /projects/{project}/servers)")
    listing.add_argument("--limit", type=_positive, help="at most this many")
    listing.set_defaults(run=_servers_list)
    show = leaf(servers, "show", "one server (GET /servers/{id})")
    show.add_argument("server", metavar="SERVER", help="its id, or its hostname in --project")
    show.add_argument("--project", help="the project of a hostname (default: the credentials')")
    show.set_defaults(run=_servers_show)

    launch = leaf(commands, "launch", "launch servers (POST /projects/{project}/servers)", waiting)
    launch.add_argument("--project", help="the project to launch in (default: the credentials')")
    launch.add_argument("--type", required=True, help="the server type, by id or name")
    launch.add_argument("--template", required=True, help="the template (image) id")
    launch.add_argument("--keypair", required=True, help="the keypair, by id or name")
    launch.add_argument("--hostname-pattern", help="names the servers without --hostname, e.g. web-%%(rand_num)4d")
    how_many = launch.add_mutually_exclusive_group()
    how_many.add_argument("--count", type=_positive, help="how many servers (default 1), named by the pattern")
    how_many.add_argument(
        "--hostname", nargs="+", action="extend", metavar="HOSTNAME", help="one server for each hostname"
    )
    launch.add_argument("--idempotency-key", help="the same key again returns the first launch instead of another")
    launch.set_defaults(run=_launch)

    task = commands.add_parser("task", help="start, list and show tasks").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    start = leaf(task, "start", "start a task on a server (POST /servers/{id}/tasks)", waiting)
    start.add_argument("server", metavar="SERVER", help="its id, or its hostname in --project")
    start.add_argument("task_action", metavar="ACTION", help="POWER_OFF, REBOOT, RESIZE, ... (see GET /schemas)")
    start.add_argument(
        "--param", type=_param, action="append", default=[], metavar="KEY=VALUE",
        help="a parameter of the action: key=text, or key:=JSON (repeat for several)",
    )  # fmt: skip
    start.add_argument("--project", help="the project of a hostname (default: the credentials')")
    start.add_argument("--idempotency-key", help="the same key again returns the first task instead of another")
    start.set_defaults(run=_task_start)
    history = leaf(task, "list", "a server's tasks (GET /servers/{id}/tasks)")
    history.add_argument("server", metavar="SERVER", help="its id, or its hostname in --project")
    history.add_argument("--project", help="the project of a hostname (default: the credentials')")
    history.add_argument("--limit", type=_positive, help="at most this many")
    history.set_defaults(run=_task_list)
    task_show = leaf(task, "show", "one task and its items (GET /server_tasks/{id})", waiting)
    task_show.add_argument("task", metavar="TASK", help="the task's id")
    task_show.set_defaults(run=_task_show)

    for name, summary, run in (
        ("types", "server types (GET /server_types)", _types_list),
        ("keypairs", "the caller's keypairs (GET /keypairs)", _keypairs_list),
        ("groups", "a project's server groups (GET /projects/{project}/server_groups)", _groups_list),
    ):
        command = commands.add_parser(name, help=summary)
        listed = leaf(command.add_subparsers(dest="action", required=True, metavar="ACTION"), "list", summary)
        if name == "groups":
            listed.add_argument("--project", help="the project (default: the credentials')")
        listed.set_defaults(run=run)

    compare = leaf(
        commands, "compare", "a vNext object beside the Nova object it is made from, field by field (GET /_compare/...)"
    )
    which = compare.add_mutually_exclusive_group(required=True)
    which.add_argument("--server", metavar="SERVER", help="a server, by id or by hostname in --project")
    which.add_argument("--type", metavar="TYPE", help="a server type, by id or name (beside Nova's flavor)")
    which.add_argument("--task", metavar="TASK", help="a task, by id (beside Nova's instance action)")
    compare.add_argument("--project", help="the project of a hostname (default: the credentials')")
    compare.description = (
        "Each vNext field with its value, the Nova field(s) it is made from and their values, how it was made, "
        "and where its mapping declares it; then Nova's fields vNext does not show. Asks the proxy's "
        "GET /_compare/{servers|server_types|server_tasks}/{id} with the caller's token: it shows only "
        "what that token may read."
    )
    compare.set_defaults(run=_compare)
    return parser


def _defaults() -> dict[str, Any]:
    """What each common option falls back to when it is given nowhere."""
    return {
        "os_cloud": None,
        "os_region_name": None,
        "os_interface": None,
        "service_type": os.environ.get("VNEXT_SERVICE_TYPE") or DEFAULT_SERVICE_TYPE,
        "endpoint": os.environ.get("VNEXT_ENDPOINT") or None,
        "token": os.environ.get("OS_TOKEN") or None,
        "timeout": 60.0,
        "format": "table",
        "debug": False,
    }


def main(argv: Sequence[str] | None = None, prog: str = "vnext") -> int:
    """``prog`` names the command in help and usage: ``vnext-proxy compare`` runs this too."""
    args = build_parser(prog).parse_args(argv)
    given = set(vars(args))
    for key, value in _defaults().items():
        if key not in given:
            setattr(args, key, value)
    if args.debug:
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
    options = Options(
        os_cloud=args.os_cloud,
        os_cloud_given="os_cloud" in given,
        region_name=args.os_region_name,
        interface=args.os_interface,
        service_type=args.service_type,
        endpoint=args.endpoint,
        token=args.token,
        token_given="token" in given,
        timeout=args.timeout,
    )
    try:
        client = connect(options)
        run: Callable[[VNext, argparse.Namespace], int] = args.run
        return run(client, args)
    except ApiError as exc:
        output.print_error(exc)
        return 1
    except ClientError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except StoppedWaiting as stopped:
        _print_follow_up(stopped.tasks, args, options)
        return INTERRUPTED
    except KeyboardInterrupt:
        return INTERRUPTED


def _out() -> Console:
    return output.console(sys.stdout)


def _project(client: VNext, args: argparse.Namespace) -> str:
    project: str | None = args.project or client.project_id
    if project is None:
        raise ClientError("name the project with --project (a static --token does not say which it is)")
    return project


def _servers_list(client: VNext, args: argparse.Namespace) -> int:
    route = path("/projects/{project}/servers", project=args.project) if args.project else "/servers"
    servers = list(client.pages(route, "servers", args.limit))
    _show_list(args, servers, output.SERVER_COLUMNS)
    return 0


def _servers_show(client: VNext, args: argparse.Namespace) -> int:
    if is_uuid(args.server):
        server = client.get(path("/servers/{server}", server=args.server))
    else:
        server = client.server_by_hostname(args.server, args.project)
    _show_object(args, server)
    return 0


def _launch(client: VNext, args: argparse.Namespace) -> int:
    project = _project(client, args)
    defaults: dict[str, Any] = {
        "type_id": client.server_type_id(args.type),
        "template_id": args.template,
        "keypair_id": client.keypair_id(args.keypair),
    }
    if args.hostname_pattern:
        defaults["hostname_pattern"] = args.hostname_pattern
    servers: list[dict[str, Any]] = (
        [{"hostname": h} for h in args.hostname] if args.hostname else [{} for _ in range(args.count or 1)]
    )
    route = path("/projects/{project}/servers", project=project)
    launched = client.post(route, {"defaults": defaults, "servers": servers}, args.idempotency_key)
    if not isinstance(launched, list):
        raise ClientError("the launch's answer is not a list of servers")
    if args.wait:
        tasks = [client.request("GET", _link(entry, "rel/server_task")) for entry in launched]
        ended = {task["id"]: task for task in _wait(client, args, tasks)}
        launched = [{**entry, "task": ended[_link(entry, "rel/server_task").rsplit("/", 1)[1]]} for entry in launched]
    if args.format == "json":
        output.print_json(launched)
    else:
        rows = [{**entry, "task": entry.get("task") or {"id": _link(entry, "rel/server_task").rsplit("/", 1)[1]}}
                for entry in launched]  # fmt: skip
        columns = output.LAUNCH_COLUMNS if args.wait else [c for c in output.LAUNCH_COLUMNS if c[0] != "STATE"]
        output.print_table(rows, columns, _out())
    return _outcome([entry["task"] for entry in launched] if args.wait else [])


def _task_start(client: VNext, args: argparse.Namespace) -> int:
    server = client.server_id(args.server, args.project)
    body = {"action": args.task_action.upper(), **dict(args.param)}
    task = client.post(path("/servers/{server}/tasks", server=server), body, args.idempotency_key)
    if args.wait:
        task = _wait(client, args, [task])[0]
        if args.format == "json":
            output.print_json(task)
        return _outcome([task])
    _show_object(args, task)
    return 0


def _task_list(client: VNext, args: argparse.Namespace) -> int:
    server = client.server_id(args.server, args.project)
    tasks = list(client.pages(path("/servers/{server}/tasks", server=server), "tasks", args.limit))
    _show_list(args, tasks, output.TASK_COLUMNS)
    return 0


def _task_show(client: VNext, args: argparse.Namespace) -> int:
    task = client.get(path("/server_tasks/{task}", task=args.task))
    if args.wait:
        task = _wait(client, args, [task])[0]
        if args.format == "json":
            output.print_json(task)
        return _outcome([task])
    items = list(client.pages(path("/server_tasks/{task}/items", task=args.task), "items"))
    if args.format == "json":
        output.print_json({**task, "items": items})
    else:
        out = _out()
        output.print_object(task, out)
        output.print_table(items, output.ITEM_COLUMNS, out)
    return 0


def _types_list(client: VNext, args: argparse.Namespace) -> int:
    _show_list(args, list(client.pages("/server_types", "server_types")), output.TYPE_COLUMNS)
    return 0


def _keypairs_list(client: VNext, args: argparse.Namespace) -> int:
    _show_list(args, list(client.pages("/keypairs", "keypairs")), output.KEYPAIR_COLUMNS)
    return 0


def _groups_list(client: VNext, args: argparse.Namespace) -> int:
    route = path("/projects/{project}/server_groups", project=_project(client, args))
    _show_list(args, list(client.pages(route, "server_groups")), output.GROUP_COLUMNS)
    return 0


def _compare(client: VNext, args: argparse.Namespace) -> int:
    kind, object_id = _compared(client, args)
    page = client.get(path("/_compare/{kind}/{object_id}", kind=kind, object_id=object_id))
    if not isinstance(page, dict) or not isinstance(page.get("fields"), list):
        raise ClientError(f"GET /_compare/{kind}/{object_id}: the answer is not a comparison")
    if args.format == "json":
        output.print_json(page)
    else:
        output.print_compare(page, _out())
    return 0


def _compared(client: VNext, args: argparse.Namespace) -> tuple[str, str]:
    """The compare page's kind and id for what the options name."""
    if args.server is not None:
        return "servers", client.server_id(args.server, args.project)
    if args.type is not None:
        return "server_types", client.server_type_id(args.type)
    return "server_tasks", str(args.task)


def _show_list(args: argparse.Namespace, objects: list[dict[str, Any]], columns: list[output.Column]) -> None:
    if args.format == "json":
        output.print_json(objects)
    else:
        output.print_table(objects, columns, _out())


def _show_object(args: argparse.Namespace, obj: dict[str, Any]) -> None:
    if args.format == "json":
        output.print_json(obj)
    else:
        output.print_object(obj, _out())


def _link(entry: dict[str, Any], rel: str) -> str:
    href = ((entry.get("_links") or {}).get(rel) or {}).get("href")
    if not isinstance(href, str) or not href.startswith("/"):
        raise ClientError(f"the answer has no {rel} link")
    return href


def _wait(client: VNext, args: argparse.Namespace, tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    # With -f json, stdout is for the JSON alone: the progress goes to stderr.
    stream = sys.stderr if args.format == "json" else sys.stdout
    display = display_for(output.console(stream))
    try:
        return wait_for(client, tasks, display, interval=args.poll_interval)
    except KeyboardInterrupt:
        raise StoppedWaiting(tasks) from None


def _outcome(tasks: list[dict[str, Any]]) -> int:
    """0 when every task waited for completed; else 1, saying how each other ended."""
    failed = [task for task in tasks if task.get("state") != "COMPLETED"]
    for task in failed:
        reason = f": {task['reason']}" if task.get("reason") else ""
        print(f"error: task {task['id']} ({task.get('action')}) ended {task.get('state')}{reason}", file=sys.stderr)
    return 1 if failed else 0


def _print_follow_up(tasks: list[dict[str, Any]], args: argparse.Namespace, options: Options) -> None:
    """After Ctrl-C: the tasks go on in the proxy; how to follow them later."""
    again = ["vnext"]
    if options.os_cloud_given and options.os_cloud:
        again += ["--os-cloud", options.os_cloud]
    if options.endpoint:
        again += ["--endpoint", options.endpoint]
    running = [task for task in tasks if task.get("state") not in ENDED] or tasks
    which = "the task goes" if len(running) == 1 else "the tasks go"
    print(f"\nStopped waiting; {which} on in the cloud. Follow with:", file=sys.stderr)
    for task in running:
        print(f"  {' '.join([*again, 'task', 'show', task['id'], '--wait'])}", file=sys.stderr)
    sys.stderr.flush()
