"""A real Keystone 30 for devcloud, in a child process of its own.

Keystone and Nova share oslo.config's global ``CONF``, so nothing in the
devcloud process may import ``keystone``: this module's launching half is
plain Python, and its serving half (``python -m vnext_proxy.devcloud.keystone``)
runs in the child. The child sets itself up from nothing in one interpreter
(config, fernet keys, schema, devcloud's users with their fixed ids,
bootstrap, catalog) and serves Keystone's WSGI app on loopback.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import IO, Any

from vnext_proxy.devcloud.identities import IDENTITIES, Identity

REGION = "RegionOne"
#: Every devcloud user's password, the admin's included.
PASSWORD = "devcloud"
#: identities.py gives the proxy's service user the admin project under the
#: name "service"; Keystone needs one name per project, and the tests sign in
#: with project_name "service", so that is a project of its own here.
SERVICE_PROJECT = "5e0000000000400080000000000005e0"
#: Nova's own user, with which keystonemiddleware validates the callers' tokens.
NOVA_USER = ("5e000000000040008000000000000a0a", "nova")

CONF_TEMPLATE = """\
[DEFAULT]
debug = false
use_stderr = true

[database]
connection = sqlite:///{d}/keystone.db

[token]
provider = fernet
# Long enough for any test session, so expiry never surprises a test.
expiration = 14400

[fernet_tokens]
key_repository = {d}/fernet-keys
max_active_keys = 3

[fernet_receipts]
key_repository = {d}/fernet-keys

[credential]
key_repository = {d}/credential-keys

[identity]
# The default (12 bcrypt rounds) makes every sign-in cost ~0.3 s.
password_hash_rounds = 4

# Only tokens scoped to this project say is_admin_project (unset: every one does).
[resource]
admin_project_name = admin
admin_project_domain_name = Default

# Keystone 30's own defaults, without the deprecated fallbacks' warning per request.
[oslo_policy]
enforce_new_defaults = true
enforce_scope = true

# Without a cache every request makes hundreds of SQLite queries (up to a
# second each under load). One process, so the dict cache stays coherent and
# a revocation invalidates what it cached.
[cache]
enabled = true
backend = oslo_cache.dict
"""


# --- the launching side (devcloud's process) ------------------------------------------


class KeystoneProcess:
    """The Keystone child; ``url`` (…/v3) answers once ``wait_ready`` returns."""

    def __init__(self, proc: subprocess.Popen[str], url: str, log: IO[str]) -> None:
        self.proc = proc
        self.url = url
        self._log = log
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._first_line, daemon=True).start()

    def _first_line(self) -> None:
        assert self.proc.stdout is not None
        self._lines.put(self.proc.stdout.readline())

    def wait_ready(self, timeout: float = 120.0) -> None:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            self.stop()
            raise RuntimeError(f"Keystone did not start within {timeout:g}s (see {self._log.name})") from None
        if not line.startswith("READY "):
            self.stop()
            raise RuntimeError(f"Keystone did not start: {line.strip()!r} (see {self._log.name})")

    def stop(self, timeout: float = 10.0) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._log.close()


def start_keystone(
    workdir: Path, port: int, nova_url: str, vnext_url: str, log_path: Path | None = None
) -> KeystoneProcess:
    """Spawn Keystone on ``port`` with its database and keys in ``workdir``;
    its catalog names it, Nova (``nova_url``) and the proxy (``vnext_url``)."""
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = log_path or workdir / "keystone.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = log_path.open("w", encoding="utf-8")
    command = [sys.executable, "-m", "vnext_proxy.devcloud.keystone", str(workdir), str(port), nova_url, vnext_url]
    # No new session: DevCloudProcess.stop's killpg must end Keystone too.
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=log, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1")
    )
    return KeystoneProcess(proc, f"http://127.0.0.1:{port}/v3", log)


def password_token(keystone_url: str, username: str, project_id: str) -> str:
    """A project-scoped token for a devcloud user: a password sign-in through
    keystoneauth1, as any OpenStack client makes it."""
    from keystoneauth1 import session
    from keystoneauth1.identity import v3

    credentials = v3.Password(
        auth_url=keystone_url, username=username, password=PASSWORD, user_domain_id="default", project_id=project_id
    )
    token = session.Session(auth=credentials).get_token()
    if token is None:  # keystoneauth1 raises on a refused sign-in; None is no token either
        raise RuntimeError(f"Keystone gave {username} no token")
    return token


def authtoken_options(keystone_url: str) -> dict[str, object]:
    """Nova's [keystone_authtoken]: validate callers' tokens as the nova user."""
    root = keystone_url.removesuffix("/v3")
    return {
        "www_authenticate_uri": root,
        "auth_url": root,
        "auth_type": "password",
        "username": NOVA_USER[1],
        "password": PASSWORD,
        "project_name": "service",
        "user_domain_id": "default",
        "project_domain_id": "default",
        "region_name": REGION,
        # The default caches a validation for 300 s: a revoked token would
        # keep working in Nova that long. devcloud is slow enough already.
        "token_cache_time": -1,
    }


# --- the serving side (the Keystone child) --------------------------------------------


def _project_of(identity: Identity) -> tuple[str, str]:
    if identity.project_name == "service":
        return SERVICE_PROJECT, "service"
    return identity.project_id, identity.project_name


def _write_setup(d: Path) -> None:
    """keystone.conf, and what fernet_setup and credential_setup would write
    (the fernet provider refuses to load without keys)."""
    from cryptography.fernet import Fernet

    (d / "keystone.conf").write_text(CONF_TEMPLATE.format(d=d), encoding="utf-8")
    for repo in ("fernet-keys", "credential-keys"):
        (d / repo).mkdir(mode=0o700, exist_ok=True)
        for name in ("0", "1"):  # 0 staged, 1 primary
            path = d / repo / name
            path.write_bytes(Fernet.generate_key())
            path.chmod(0o600)


def _seed_identities(providers: Any) -> None:
    """Domain, projects and users with devcloud's fixed ids: Keystone's API
    always makes random ids, its driver takes them."""
    providers.resource_api.create_domain("default", {"id": "default", "name": "Default", "enabled": True})
    projects = dict(_project_of(identity) for identity in IDENTITIES)
    for project_id, name in projects.items():
        project = {"id": project_id, "name": name, "domain_id": "default", "parent_id": "default"}
        providers.resource_api.create_project(project_id, {**project, "enabled": True, "is_domain": False})
    users = {identity.user_id: identity.user_name for identity in IDENTITIES} | dict([NOVA_USER])
    for user_id, name in users.items():
        user = {"id": user_id, "name": name, "domain_id": "default", "enabled": True, "password": PASSWORD}
        providers.identity_api.driver.create_user(user_id, user)


def _bootstrap(own_url: str) -> None:
    """keystone-manage bootstrap: the admin role and user (found by name, so
    devcloud's ids stay), the default roles, and the identity endpoint."""
    from unittest import mock

    from keystone.cmd.bootstrap import Bootstrapper

    # Its constructor loads the backends, which the WSGI app has loaded already
    # (a second load raises: the provider registry is locked).
    with mock.patch("keystone.cmd.bootstrap.backends.load_backends"):
        bootstrapper = Bootstrapper()
    bootstrapper.admin_password, bootstrapper.admin_username = PASSWORD, "admin"
    bootstrapper.project_name, bootstrapper.admin_role_name = "admin", "admin"
    bootstrapper.region_id, bootstrapper.service_name = REGION, "keystone"
    bootstrapper.public_url = bootstrapper.internal_url = bootstrapper.admin_url = own_url
    bootstrapper.bootstrap()


def _seed_assignments(providers: Any) -> None:
    from keystone import exception
    from keystone.common import driver_hints

    wanted = [(identity.user_id, _project_of(identity)[0], role) for identity in IDENTITIES for role in identity.roles]
    # keystonemiddleware's service_token_roles default is ["service"]; validating
    # others' tokens needs identity:validate_token (admin or service).
    wanted += [(NOVA_USER[0], SERVICE_PROJECT, role) for role in ("admin", "service")]
    # Lets a test sign alice in to "service": credentials without the admin role.
    alice = next(identity for identity in IDENTITIES if identity.user_name == "alice")
    wanted.append((alice.user_id, SERVICE_PROJECT, "member"))
    roles = {role["name"]: role["id"] for role in providers.role_api.list_roles(driver_hints.Hints())}
    for name in {role for _, _, role in wanted} - roles.keys():
        role_id = _fixed_id(f"role/{name}")
        roles[name] = providers.role_api.create_role(role_id, {"id": role_id, "name": name})["id"]
    for user_id, project_id, role in wanted:
        # Bootstrap gave admin its admin role already.
        with contextlib.suppress(exception.Conflict):
            providers.assignment_api.add_role_to_user_and_project(user_id, project_id, roles[role])


def _fixed_id(name: str) -> str:
    """Keystone-style (uuid hex), as its audit events expect, and the same every run."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"devcloud/{name}").hex


def _seed_catalog(providers: Any, nova_url: str, vnext_url: str) -> None:
    for service_type, name, url in (("compute", "nova", nova_url), ("compute-vnext", "vnext-proxy", vnext_url)):
        service_id = _fixed_id(f"service/{service_type}")
        service = {"id": service_id, "type": service_type, "name": name, "enabled": True}
        providers.catalog_api.create_service(service_id, service)
        for interface in ("public", "internal", "admin"):
            endpoint_id = _fixed_id(f"endpoint/{service_type}/{interface}")
            endpoint = {"id": endpoint_id, "service_id": service_id, "interface": interface, "region_id": REGION}
            providers.catalog_api.create_endpoint(endpoint_id, {**endpoint, "url": url, "enabled": True})


def _one_at_a_time(application: Any) -> Any:
    """Every password sign-in writes (the user's last_active_at): concurrent
    ones would fail with SQLite's "database is locked" (a 500). With the
    cache, a request takes milliseconds, so taking turns costs nothing."""
    turn = threading.Lock()

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        with turn:
            # Consumed inside the lock: Keystone's bodies are small.
            return list(application(environ, start_response))

    return app


def _exit_with_parent() -> None:
    """devcloud may die without a signal to its group (kill -9 of it alone)."""
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(0)


def serve(workdir: Path, port: int, nova_url: str, vnext_url: str) -> None:
    from socketserver import ThreadingMixIn
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    started = time.monotonic()
    threading.Thread(target=_exit_with_parent, daemon=True).start()
    _write_setup(workdir)
    os.environ["OS_KEYSTONE_CONFIG_DIR"] = str(workdir)
    sys.argv = sys.argv[:1]  # Keystone's CONF() parses the command line
    from keystone.common import provider_api
    from keystone.common.sql import upgrades
    from keystone.wsgi.api import application  # configures CONF, loads the backends

    upgrades.offline_sync_database_to_version()
    providers = provider_api.ProviderAPIs
    own_url = f"http://127.0.0.1:{port}/v3"
    _seed_identities(providers)
    _bootstrap(own_url)
    _seed_assignments(providers)
    _seed_catalog(providers, nova_url, vnext_url)

    class Server(ThreadingMixIn, WSGIServer):
        daemon_threads = True
        allow_reuse_address = True

    class Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    server = make_server("127.0.0.1", port, _one_at_a_time(application), server_class=Server, handler_class=Quiet)
    print(f"READY {own_url} {time.monotonic() - started:.1f}s", flush=True)
    # Nobody reads stdout after the READY line: a full pipe must not block Keystone.
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    signal.signal(signal.SIGTERM, lambda signum, frame: os._exit(0))
    server.serve_forever(poll_interval=0.2)


if __name__ == "__main__":
    workdir, port, nova_url, vnext_url = sys.argv[1:5]
    serve(Path(workdir), int(port), nova_url, vnext_url)
