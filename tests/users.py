"""Who the tests act as: devcloud's users, by name, signed in to its real
Keystone once per test run (the conftest's ``devcloud`` fixture does it).

``token("alice")`` is alice's Keystone token. ``auth("alice")`` is the
headers that carry it, read when a request is sent: a module may name them
at import, before the run's devcloud has started.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import requests

from vnext_proxy.config import ServiceCredentials
from vnext_proxy.devcloud.identities import IDENTITIES, Identity
from vnext_proxy.devcloud.keystone import PASSWORD, SERVICE_PROJECT, password_token

#: Each user's project-scoped token, once signed in.
_TOKENS: dict[str, str] = {}


def identity(user: str) -> Identity:
    """The devcloud identity of ``user`` (alice, bob, mary, rita, admin, vnext-service)."""
    for candidate in IDENTITIES:
        if candidate.user_name == user:
            return candidate
    raise KeyError(f"devcloud has no user {user!r}")


def sign_in(keystone_url: str, user: str, project_id: str | None = None) -> str:
    """A new password sign-in through keystoneauth1, as a user of the cloud
    would; scoped to ``project_id``, or to the user's own project."""
    return password_token(keystone_url, user, project_id or _project_of(identity(user)))


def service_credentials(auth_url: str | None = None, user: str = "vnext-service") -> ServiceCredentials:
    """The proxy's service credentials as ``user``, signing in to devcloud's Keystone."""
    return ServiceCredentials(username=user, password=PASSWORD, project_name="service", auth_url=auth_url)


def revoke(keystone_url: str, revoked: str) -> None:
    """Revoke a token in Keystone, as the admin (a user may revoke only its own)."""
    answer = requests.delete(
        f"{keystone_url}/auth/tokens", headers={"X-Auth-Token": token("admin"), "X-Subject-Token": revoked}, timeout=30
    )
    assert answer.status_code == 204, answer.text


def _project_of(who: Identity) -> str:
    # Keystone gives the service user a project of its own (see devcloud.keystone).
    return SERVICE_PROJECT if who.project_name == "service" else who.project_id


def sign_in_everyone(keystone_url: str) -> None:
    for who in IDENTITIES:
        _TOKENS[who.user_name] = sign_in(keystone_url, who.user_name)


def token(user: str) -> str:
    """``user``'s token for this test run."""
    identity(user)  # an unknown name is a typo in the test, not "not signed in"
    try:
        return _TOKENS[user]
    except KeyError:
        raise RuntimeError(f"{user} is not signed in: the test must use the devcloud fixture") from None


class auth(Mapping[str, str]):
    """``{"X-Auth-Token": token(user), **extra}``, looked up when read."""

    def __init__(self, user: str, extra: Mapping[str, str] | None = None) -> None:
        identity(user)
        self.user = user
        self._extra = dict(extra or {})

    def _headers(self) -> dict[str, str]:
        return {"X-Auth-Token": token(self.user), **self._extra}

    def __getitem__(self, name: str) -> str:
        return self._headers()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._headers())

    def __len__(self) -> int:
        return len(self._headers())

    def __repr__(self) -> str:  # never the token itself, in a failing test's output
        return f"auth({self.user!r})"
