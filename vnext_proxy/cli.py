"""The ``vnext-proxy`` command: serve, devcloud, demo, mappings, openapi, compare."""

from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from vnext_proxy import __version__
from vnext_proxy.loading import load_checked
from vnext_proxy.mapping.loader import load_mappings, packaged_mappings
from vnext_proxy.yamlsource import InputError

if TYPE_CHECKING:
    from aiohttp import web

    from vnext_proxy.web.reload import EarlyHangups


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["compare"]:
        # The client's command, for an operator at the proxy: imported only
        # here, so serving never loads the client.
        from vnext_proxy.client.cli import main as vnext_main

        return vnext_main(argv, prog="vnext-proxy")
    parser = argparse.ArgumentParser(prog="vnext-proxy", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the proxy")
    serve.add_argument("--config", required=True, type=Path, help="the YAML config file")
    serve.add_argument("--pid-file", type=Path, help="write the process id here while serving (for vnext-proxy reload)")

    reload = commands.add_parser(
        "reload",
        help="make a serving proxy re-read its config and mappings (SIGHUP); "
        "it keeps what it serves if they have any problem",
    )
    reload.add_argument("--pid-file", required=True, type=Path, help="the pid file the proxy was served with")
    reload.add_argument(
        "--config", type=Path, help="check this config and its mappings first, and send nothing if they have problems"
    )

    check = commands.add_parser("check", help="check the wiring: Nova reachable, microversions, credentials")
    check.add_argument("--config", required=True, type=Path, help="the YAML config file")

    devcloud = commands.add_parser("devcloud", help="run a real Nova (fake virt driver) on 127.0.0.1")
    devcloud.add_argument("--port", type=int, default=8774, help="port to listen on (0: any free port)")
    devcloud.add_argument(
        "--notifications",
        metavar="URL",
        help="publish Nova's versioned notifications to this RabbitMQ (rabbit://user:password@host:5672/)",
    )
    devcloud.add_argument(
        "--token-table",
        action="store_true",
        help="fast mode: take the fixed tokens of a table (devcloud-member-a, ...) instead of running a real"
        " Keystone 30 (its own process; every password is 'devcloud')",
    )
    devcloud.add_argument(
        "--vnext-url",
        default="http://127.0.0.1:8780/",
        help="where the proxy listens, for the compute-vnext entry of Keystone's catalog",
    )

    demo = commands.add_parser("demo", help="run devcloud and the proxy together, with example calls")
    demo.add_argument("--port", type=int, default=8780, help="the proxy's port")
    demo.add_argument("--nova-port", type=int, default=8774, help="devcloud's port")
    demo.add_argument("--once", action="store_true", help="run the example calls, then stop")

    mappings = commands.add_parser("mappings", help="work with the route mappings")
    mappings.add_argument(
        "action",
        choices=["check", "table", "reference"],
        help="check: validate every mapping file; table: print the gap table generated from them (Markdown); "
        "reference: print the mapping-format reference (docs/mappings.md), generated from the format's JSON-Schema",
    )
    mappings.add_argument(
        "--dir", type=Path, default=None, help="a mappings directory (default: the mappings shipped in the package)"
    )
    mappings.add_argument(
        "--update-readme", type=Path, metavar="README", help="with table: replace the table between its markers"
    )

    # Listed for --help only: main hands `compare ...` to the vnext client's command.
    commands.add_parser("compare", help="show a server, server type or task beside Nova's object, field by field")

    openapi = commands.add_parser("openapi", help="print the OpenAPI 3.1 document (JSON) that GET /openapi.json serves")
    openapi.add_argument(
        "--dir", type=Path, default=None, help="a mappings directory (default: the mappings shipped in the package)"
    )

    args = parser.parse_args(argv)
    try:
        if args.command == "serve":
            return _serve(args.config, args.pid_file)
        if args.command == "reload":
            return _reload(args.pid_file, args.config)
        if args.command == "check":
            return _check(args.config)
        if args.command == "devcloud":
            return _devcloud(args.port, args.notifications, not args.token_table, args.vnext_url)
        if args.command == "demo":
            from vnext_proxy.demo import run_demo

            return run_demo(proxy_port=args.port, nova_port=args.nova_port, once=args.once)
        if args.command == "openapi":
            from vnext_proxy.mapping.openapi import build_openapi

            print(json.dumps(build_openapi(load_mappings(args.dir)), indent=2))
            return 0
        if args.action == "reference":
            from vnext_proxy.mapping.formatdoc import render_format_reference

            print(render_format_reference(), end="")
            return 0
        if args.action == "table":
            from vnext_proxy.mapping.gapreport import gap_table_markdown

            table = gap_table_markdown(load_mappings(args.dir))
            if args.update_readme is None:
                print(table, end="")
                return 0
            return _update_readme(args.update_readme, table)
        return _mappings_check(args.dir)
    except InputError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return 2


def _check(config: Path) -> int:
    import asyncio

    from vnext_proxy.selfcheck import run_checks

    settings, mappings = load_checked(config)
    findings = asyncio.run(run_checks(settings, mappings))
    for finding in findings:
        print(finding)
    return 0 if all(f.ok for f in findings) else 1


#: Tracked objects allocated (net) before a young collection. Python's 700
#: is crossed every few requests by the objects of requests in flight,
#: which are not garbage: each such collection only promotes them.
YOUNG_COLLECTION_THRESHOLD = 10_000


async def settle_garbage_collector(app: web.Application) -> None:
    """Start-up built what lives as long as the process (mappings, schemas,
    libraries): freeze it, so full collections scan only what requests
    make, and collect the young less often. Together these were a quarter
    of the proxy's CPU per request (bench/overhead.py); requests leave no
    cyclic garbage, so memory does not grow for it."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, middle, old)


def _serve(config: Path, pid_file: Path | None = None) -> int:
    from vnext_proxy.web.reload import EarlyHangups

    # First of all: once the pid file is there, `vnext-proxy reload` may signal.
    early_hangups = EarlyHangups()
    if pid_file is None:
        return _serve_app(config, early_hangups)
    pid_file.write_text(f"{os.getpid()}\n", encoding="ascii")
    try:
        return _serve_app(config, early_hangups)
    finally:
        pid_file.unlink(missing_ok=True)


def _serve_app(config: Path, early_hangups: EarlyHangups) -> int:
    import asyncio

    import uvloop
    from aiohttp import web

    from vnext_proxy.selfcheck import run_checks
    from vnext_proxy.web.app import create_app
    from vnext_proxy.web.reload import reload_on_sighup

    settings, mappings = load_checked(config)
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log = logging.getLogger("vnext_proxy.check")
    # Said at start-up, not enforced: Nova may come up after the proxy.
    for finding in asyncio.run(run_checks(settings, mappings)):
        (log.info if finding.ok else log.warning)("%s", finding)
    # Each worker is this same command; they share the port (SO_REUSEPORT)
    # and the store. Tokens stay in the worker that served the task, and
    # service credentials poll under the store's lease: nothing twice.
    workers = [] if os.environ.get(_WORKER_ENV) else _start_workers(config, settings.workers - 1)
    # uvloop's event loop roughly halves the proxy's own cost per request
    # (bench/overhead.py); asyncio's own loop works the same, only slower.
    uvloop.install()
    try:
        # The structured access log replaces aiohttp's; run_app stops gracefully
        # on SIGTERM, letting requests in flight finish within shutdown_timeout.
        app = create_app(settings, mappings, config=config)
        app.on_startup.append(settle_garbage_collector)
        # Each worker reloads itself; the first process passes SIGHUP on.
        reload_on_sighup(app, also=partial(_signal_all, workers, signal.SIGHUP), early=early_hangups)
        web.run_app(
            app,
            host=settings.host,
            port=settings.port,
            print=None,
            access_log=None,
            shutdown_timeout=settings.shutdown_timeout,
            # aiohttp closes a connection whose request has not fully arrived
            # by then: a slow client cannot hold one. A body is bounded by
            # limits.request_timeout, which covers the whole request.
            keepalive_timeout=settings.idle_timeout,
            reuse_port=settings.workers > 1,
        )
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(settings.shutdown_timeout + 5)
    return 0


_WORKER_ENV = "VNEXT_PROXY_WORKER"


def _signal_all(workers: list[subprocess.Popen[bytes]], signum: int) -> None:
    for worker in workers:
        worker.send_signal(signum)


def _reload(pid_file: Path, config: Path | None) -> int:
    if config is not None:
        _, mappings = load_checked(config)  # InputError: reported by main, nothing sent
        print(f"ok: {config} and its mappings (version {mappings.version}) have no problems")
    try:
        pid = int(pid_file.read_text(encoding="ascii").strip())
        os.kill(pid, signal.SIGHUP)
    except (OSError, ValueError) as exc:
        print(f"error: cannot signal the proxy of {pid_file}: {exc}", file=sys.stderr)
        return 1
    print(f"sent SIGHUP to {pid}: its log says whether the reload was applied; /healthcheck shows the version served")
    return 0


def _start_workers(config: Path, count: int) -> list[subprocess.Popen[bytes]]:
    env = dict(os.environ, **{_WORKER_ENV: "1"})
    command = [sys.executable, "-m", "vnext_proxy", "serve", "--config", str(config)]
    from vnext_proxy.web.reload import hangups_held

    with hangups_held():
        return [subprocess.Popen(command, env=env) for _ in range(count)]


def _devcloud(port: int, notifications: str | None, keystone: bool, vnext_url: str) -> int:
    try:
        from vnext_proxy.devcloud import harness
    except ImportError as exc:
        print(
            f"error: devcloud needs the [devcloud] extra (pip install -e '.[devcloud]'): {exc}",
            file=sys.stderr,
        )
        return 2
    from vnext_proxy.devcloud.identities import IDENTITIES

    def announce(endpoint: str, keystone_url: str | None) -> None:
        print(f"devcloud: Nova 34 is serving at {endpoint}")
        if keystone_url is not None:
            print(f"Keystone 30 is serving at {keystone_url}; every user's password is 'devcloud':")
            for ident in IDENTITIES:
                print(f"  user {ident.user_name:13} project {ident.project_name:9} roles {','.join(ident.roles)}")
            print("READY", endpoint, keystone_url, flush=True)
            return
        print("tokens it accepts (send as X-Auth-Token):")
        for ident in IDENTITIES:
            roles = ",".join(ident.roles)
            print(f"  {ident.token:22} user {ident.user_name:6} project {ident.project_id} roles {roles}")
        print("READY", endpoint, flush=True)

    harness.serve_forever(port, on_ready=announce, notifications=notifications, keystone=keystone, vnext_url=vnext_url)
    return 0


README_MARKERS = ("<!-- gap-table:start -->\n", "<!-- gap-table:end -->")


def _update_readme(readme: Path, table: str) -> int:
    text = readme.read_text(encoding="utf-8")
    start, end = README_MARKERS
    if start not in text or end not in text:
        print(f"error: {readme} has no {start.strip()} ... {end} markers", file=sys.stderr)
        return 2
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(head + start + table + end + tail, encoding="utf-8")
    return 0


def _mappings_check(directory: Path | None) -> int:
    mappings = load_mappings(directory)
    where = directory or packaged_mappings()
    print(f"ok: {len(mappings.routes)} routes and {len(mappings.objects)} objects in {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
