"""Run the real Nova 34 (fake virt driver, two computes) over HTTP on loopback.

Nova's functional-test base brings up the API, conductor, scheduler,
placement and fake Glance/Neutron/Cinder in about two seconds. This module
makes that setup honest enough to stand in for a cloud: real policy defaults,
request contexts built from the WSGI environ (so an instance action's
request_id equals the x-openstack-request-id of the call that started it),
and keystonemiddleware validating tokens against a real Keystone in a child
process instead of Nova's header stubs, or, in the fast mode, a fixed token
table (devcloud.auth).
"""

from __future__ import annotations

import os

# Must happen before nova is imported: in eventlet mode casts never run.
os.environ.setdefault("OS_NOVA_DISABLE_EVENTLET_PATCHING", "1")

import shutil
import signal
import socket
import sys
import tempfile
import threading
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

# nova.tests.functional patches (or poisons) eventlet when imported, so it
# goes before any other nova module.
from nova.tests.functional import integrated_helpers

# isort: split
import nova.conf
import nova.policy
import webob.exc
from nova.api import auth as nova_auth
from nova.api.openstack import identity as nova_identity

from vnext_proxy.devcloud import keystone as devcloud_keystone
from vnext_proxy.devcloud.auth import token_auth
from vnext_proxy.devcloud.identities import IDENTITIES

CONF = nova.conf.CONF
_REAL_CREATE_CONTEXT = nova_auth.NovaKeystoneContext.__dict__["_create_context"]
_REAL_VERIFY_PROJECT_ID = nova_identity.verify_project_id
_PROJECTS = frozenset(identity.project_id for identity in IDENTITIES)


def _verify_project_id(context: Any, project_id: str) -> bool:
    """What Nova's check answers when Keystone knows (or does not know) the project."""
    if project_id not in _PROJECTS:
        raise webob.exc.HTTPBadRequest(explanation=f"Project ID {project_id} is not a valid project.")
    return True


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True
    # A restarted devcloud must be able to take its port back at once.
    allow_reuse_address = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        if os.environ.get("DEVCLOUD_ACCESS_LOG"):
            super().log_message(format, *args)


class _DevCloud(integrated_helpers._IntegratedTestBase):  # type: ignore[misc]
    """Nova's integrated test base, set up as a long-running cloud."""

    CAST_AS_CALL = False
    STUB_KEYSTONE = True
    ADMIN_API = True

    def runTest(self) -> None:  # testtools needs a test method to exist.
        pass

    def _setup_services(self) -> None:
        self.flags(api_paste_config=os.path.join(sys.prefix, "etc", "nova", "api-paste.ini"), group="wsgi")
        self.flags(allow_resize_to_same_host=True)
        # TERMINATE becomes a soft delete that RESTORE can undo.
        self.flags(reclaim_instance_interval=3600)
        # SHELVED lasts, so SHELVE and SHELVE_OFFLOAD can both be observed.
        self.flags(shelved_offload_time=-1)
        # Production's default: a response that fails Nova's own schema is
        # logged, not turned into a 400 (the test fixtures use "error").
        self.flags(response_validation="warn", group="api")
        # Launch affinity (near / not near other servers) needs these two
        # scheduler filters; a cloud that offers it enables them too.
        filters = [*CONF.filter_scheduler.enabled_filters, "SameHostFilter", "DifferentHostFilter"]
        self.flags(enabled_filters=filters, group="filter_scheduler")
        # Each of the four RPC servers (conductor, scheduler, two computes)
        # would grow a pool of 64 threads that stay, each waking every
        # second: over a test run devcloud's time went more and more to
        # switching between them. One process of tests needs far fewer.
        import oslo_messaging

        CONF.register_opts(oslo_messaging.server._pool_opts)
        self.flags(executor_thread_pool_size=16)
        super()._setup_services()
        self.compute2 = self._start_compute("compute2")

    def make_honest(self) -> None:
        """Undo what the test fixtures bend away from a real deployment."""
        # SQLAlchemy deprecation warnings are errors in the fixtures and
        # surface as 500s on lock, suspend, rescue, shelve and tags.
        warnings.resetwarnings()
        warnings.simplefilter("ignore")
        # The placement fixture turns the new policy defaults off.
        self.flags(enforce_new_defaults=True, group="oslo_policy")
        nova.policy.reset()
        nova.policy.init(suppress_deprecation_warnings=True)
        # The stub context drops the request id and calls only the user
        # "admin" an admin; the real one reads what token_auth sets.
        nova_auth.NovaKeystoneContext._create_context = _REAL_CREATE_CONTEXT
        # Nova asks Keystone whether a project exists (flavor access, quota
        # sets); devcloud plays Keystone, so its project table answers.
        nova_identity.verify_project_id = _verify_project_id


class _KeystoneDevCloud(_DevCloud):
    """Nova behind keystonemiddleware's auth_token, validating against a real Keystone."""

    STUB_KEYSTONE = False  # keeps auth_token in the paste pipeline
    keystone_url = ""

    def _setup_services(self) -> None:
        from keystoneauth1 import loading as ks_loading

        # auth_token registers the password plugin's options (username,
        # password, ...) only when its filter is built: flags() needs them now.
        ks_loading.register_auth_conf_options(CONF, "keystone_authtoken")
        CONF.register_opts(ks_loading.get_auth_plugin_conf_options("password"), group="keystone_authtoken")
        for name, value in devcloud_keystone.authtoken_options(self.keystone_url).items():
            self.flags(**{name: value}, group="keystone_authtoken")
        # How Nova finds Keystone (verify_project_id) in the caller's catalog.
        self.flags(region_name=devcloud_keystone.REGION, valid_interfaces=["public"], group="keystone")
        super()._setup_services()

    def make_honest(self) -> None:
        super().make_honest()
        # Whether a project exists is the real Keystone's to say now.
        nova_identity.verify_project_id = _REAL_VERIFY_PROJECT_ID


def _pool_sqlite_connections() -> None:
    """Keep Nova's SQLite connections open between sessions, as a real
    database's pool would. oslo.db opens a new one (with its pragmas) for
    every session on a SQLite file, which was a quarter of devcloud's time."""
    from oslo_db.sqlalchemy import engines
    from sqlalchemy import pool

    def pooled(url: Any, engine_args: dict[str, Any], kw: dict[str, Any]) -> None:
        if engine_args.get("poolclass") is pool.NullPool:
            engine_args["poolclass"] = pool.QueuePool
            # A local file never drops a connection: no "SELECT 1" before each use.
            engine_args.update(pool_size=8, max_overflow=32, pool_pre_ping=False)
            engine_args.setdefault("connect_args", {})["check_same_thread"] = False

    # A multi-dispatcher: this runs after oslo.db's own sqlite function.
    engines._init_connection_args.dispatch_for("sqlite")(pooled)


#: Where oslo.messaging keeps notifications for a consumer that may come
#: later: queues of its own, which nobody here reads.
_OSLO_QUEUES = ("versioned_notifications.info", "versioned_notifications.error")


def publish_notifications(cloud: _DevCloud, url: str) -> None:
    """Nova's versioned notifications to the bus at ``url`` (rabbit://), as a
    cloud configured with notification_format = versioned sends them; RPC
    stays in this process. Only the notifier is swapped, after set-up."""
    import oslo_messaging
    from nova import rpc

    cloud.flags(notification_format="versioned", group="notifications")
    transport = oslo_messaging.get_notification_transport(CONF, url=url)
    rpc.NOTIFIER = oslo_messaging.Notifier(
        transport,
        driver="messagingv2",
        topics=["versioned_notifications"],
        serializer=rpc.RequestContextSerializer(rpc.JsonPayloadSerializer()),
    )


def drop_unread_notifications(url: str) -> None:
    """oslo.messaging's own notification queues fill up with every event of a
    run (a real cloud has consumers, or a TTL policy): emptied at start and stop."""
    import asyncio

    import aio_pika

    async def drop() -> None:
        connection = await aio_pika.connect(url.replace("rabbit://", "amqp://", 1), timeout=5)
        async with connection:
            channel = await connection.channel()
            for name in _OSLO_QUEUES:
                await channel.queue_delete(name)

    try:
        asyncio.run(drop())
    except Exception as exc:  # the bus is best-effort for devcloud too
        print(f"devcloud: could not drop oslo's notification queues: {exc!r}", file=sys.stderr)


#: Where the proxy is expected, for the catalog's compute-vnext entry.
DEFAULT_VNEXT_URL = "http://127.0.0.1:8780/"


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def start(
    port: int,
    host: str = "127.0.0.1",
    notifications: str | None = None,
    keystone: bool = True,
    vnext_url: str = DEFAULT_VNEXT_URL,
) -> tuple[WSGIServer, Callable[[], None], str | None]:
    """Bring Nova up and serve it; returns the server, a stop function and,
    with ``keystone``, the real Keystone's URL (…/v3) Nova validates against."""
    keystone_process = None
    if keystone:
        # The catalog names Nova, so its port is chosen before Keystone starts;
        # Keystone sets itself up while Nova does.
        port = port or _free_port(host)
        workdir = Path(tempfile.mkdtemp(prefix="devcloud-keystone-"))
        log = os.environ.get("DEVCLOUD_KEYSTONE_LOG")
        keystone_process = devcloud_keystone.start_keystone(
            workdir, _free_port("127.0.0.1"), f"http://{host}:{port}/v2.1", vnext_url, Path(log) if log else None
        )
        _KeystoneDevCloud.keystone_url = keystone_process.url
    _pool_sqlite_connections()
    cloud = _KeystoneDevCloud() if keystone else _DevCloud()
    cloud.setUp()
    cloud.make_honest()
    if notifications is not None:
        drop_unread_notifications(notifications)
        publish_notifications(cloud, notifications)
    app = cloud.api_fixture.app()
    if keystone_process is not None:
        keystone_process.wait_ready()
    else:
        app = token_auth(app)
    server = make_server(host, port, app, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        if notifications is not None:
            drop_unread_notifications(notifications)
        if keystone_process is not None:
            keystone_process.stop()
            shutil.rmtree(workdir, ignore_errors=True)

    return server, stop, keystone_process.url if keystone_process else None


def serve_forever(
    port: int,
    host: str = "127.0.0.1",
    on_ready: Callable[[str, str | None], None] | None = None,
    notifications: str | None = None,
    keystone: bool = True,
    vnext_url: str = DEFAULT_VNEXT_URL,
) -> None:
    """Run devcloud in this process until SIGINT or SIGTERM; ``on_ready``
    gets Nova's endpoint and, with ``keystone``, Keystone's URL."""
    try:
        server, stop, keystone_url = start(port, host, notifications, keystone, vnext_url)
    except Exception:
        # Nova's non-daemon threads would keep a failed start alive forever.
        traceback.print_exc()
        sys.stdout.flush()
        os._exit(1)
    endpoint = f"http://{host}:{server.server_port}/v2.1"
    stopping = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=stop, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if on_ready is not None:
        on_ready(endpoint, keystone_url)
    server.serve_forever(poll_interval=0.2)
    # Nova's services leave non-daemon threads running, which would keep the
    # process alive after a signal; a dev cloud has nothing left to save.
    sys.stdout.flush()
    os._exit(0)
