"""``vnext-proxy check``: wiring mistakes, said in plain words.

Is Nova where the config says, does it offer the microversion the proxy asks
for (and the mappings need), and do the configured credentials work?
"""

from __future__ import annotations

from dataclasses import dataclass

from vnext_proxy.calls import microversion
from vnext_proxy.config import Settings
from vnext_proxy.errors import VNextError
from vnext_proxy.mapping.model import MappingSet
from vnext_proxy.nova.client import NovaClient
from vnext_proxy.nova.endpoint import EndpointResolver
from vnext_proxy.nova.notifications import probe_bus, shown_url
from vnext_proxy.nova.operations import INSTANCE_ACTIONS, SERVERS
from vnext_proxy.nova.service_auth import ServiceAuth


@dataclass(frozen=True)
class Finding:
    ok: bool
    text: str

    def __str__(self) -> str:
        return f"{'ok' if self.ok else 'PROBLEM'}: {self.text}"


async def run_checks(settings: Settings, mappings: MappingSet) -> list[Finding]:
    findings: list[Finding] = []
    needed = max((call.min_microversion for route in mappings.routes for call in route.nova), default=(2, 1))
    findings.append(
        Finding(
            True, f"the mappings need compute {needed[0]}.{needed[1]}; the proxy asks for {settings.nova.microversion}"
        )
    )
    resolver = EndpointResolver(settings.nova, settings.tasks.service_credentials)
    async with NovaClient(settings.nova, resolver) as nova:
        try:
            endpoint = await resolver.endpoint(None)
            findings.append(Finding(True, f"Nova's endpoint is {endpoint}"))
            answer = await nova.versions()
        except VNextError as exc:
            findings.append(Finding(False, f"Nova cannot be reached: {exc.message}"))
            return findings + await _credentials(settings, None) + await _notifications(settings)
        v21 = next((v for v in (answer.body or {}).get("versions", []) if v.get("id") == "v2.1"), None)
        if v21 is None:
            findings.append(Finding(False, f"what answers at {endpoint} is not Nova (no v2.1 in its versions)"))
        else:
            low, high = microversion(v21["min_version"]), microversion(v21["version"])
            wanted = microversion(settings.nova.microversion)
            fits = low <= wanted <= high
            findings.append(
                Finding(
                    fits,
                    f"Nova offers compute {v21['min_version']} to {v21['version']}"
                    + ("" if fits else f": it cannot serve {settings.nova.microversion} (set nova.microversion)"),
                )
            )
        return findings + await _credentials(settings, nova) + await _notifications(settings)


async def _notifications(settings: Settings) -> list[Finding]:
    bus = settings.notifications
    if bus is None:
        interval = settings.tasks.poll_interval
        return [Finding(True, f"no notifications: tasks follow Nova within a poll interval ({interval:g}s)")]
    problem = await probe_bus(bus)
    if problem is None:
        return [Finding(True, f"Nova's notifications: exchange {bus.exchange!r} is on {shown_url(bus.url)}")]
    return [Finding(False, f"Nova's notifications: {problem}")]


async def _credentials(settings: Settings, nova: NovaClient | None) -> list[Finding]:
    creds = settings.tasks.service_credentials
    if creds is None:
        return [Finding(True, "no service credentials: the poller uses each task creator's token")]
    token = await ServiceAuth(creds, settings.nova).token()
    if token is None:
        return [Finding(False, f"Keystone refused the service credentials of user {creds.username!r}")]
    findings = [Finding(True, f"Keystone signs in the service user {creds.username!r}")]
    if nova is not None:
        try:
            findings += await _poller_reads(nova, token, creds.username)
        except VNextError as exc:
            findings.append(Finding(False, f"the poller's reads could not be tried: {exc.message}"))
    return findings


#: What the service user's role must allow: the poller's own calls.
_ADMIN_NEEDED = "give it the admin role (Nova's policy: every project's servers, their actions and resizes)"


async def _poller_reads(nova: NovaClient, token: str, user: str) -> list[Finding]:
    """The reads the poller makes with the service credentials, made once.
    A check never writes, so confirming a resize is named, not tried."""
    listing = await nova.send(SERVERS(query=_ONE_OF_EVERY_PROJECT), token=token)
    if listing.status in (401, 403):
        return [
            Finding(False, f"{user!r} may not list every project's servers (Nova: {listing.status}): {_ADMIN_NEEDED}")
        ]
    if not listing.ok:
        return [Finding(False, f"listing every project's servers as {user!r} failed (Nova: {listing.status})")]
    found = [Finding(True, f"{user!r} may list every project's servers")]
    servers = listing.body.get("servers") if isinstance(listing.body, dict) else None
    if not servers:
        return [*found, Finding(True, "no server to read instance actions of yet; try again once one exists")]
    actions = await nova.send(INSTANCE_ACTIONS(server_id=servers[0].get("id")), token=token)
    if not actions.ok:
        reason = f"{user!r} may not read another project's instance actions (Nova: {actions.status}): {_ADMIN_NEEDED}"
        return [*found, Finding(False, reason)]
    return [*found, Finding(True, f"{user!r} may read any server's instance actions (and so confirm its resizes)")]


_ONE_OF_EVERY_PROJECT = (("all_tenants", "1"), ("limit", "1"))
