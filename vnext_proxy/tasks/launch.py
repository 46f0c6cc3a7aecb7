"""Launching servers (POST /projects/{project}/servers), the pure part:
merge defaults into each server, expand hostname patterns, check everything
against what Nova has, and build Nova's request bodies. execution.launch fetches
what Nova has; nothing here does I/O, so a refused launch changes nothing."""

from __future__ import annotations

import base64
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vnext_proxy.errors import shown
from vnext_proxy.nova.operations import KINDS

_PATTERN = re.compile(r"%\((?:rand_num|rand_name)\)(\d*)d")
#: Nova's limits, checked before any server is launched.
MAX_HOSTNAME = 63
MAX_USER_DATA_BYTES = 65_535
MAX_USER_DATA_BASE64 = 4 * -(-MAX_USER_DATA_BYTES // 3)
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
# \Z, not $: $ also matches before a final newline.
_HOSTNAME = re.compile(rf"(?=.{{1,253}}\Z){_LABEL}(\.{_LABEL})*\Z")


@dataclass(frozen=True)
class NovaFacts:
    """What the handler learnt from Nova for this request."""

    flavors: Mapping[str, str]  # vNext server type id or name -> Nova flavor id
    images: frozenset[str]  # template ids that exist
    keypairs: Mapping[str, str]  # vNext keypair id or name -> Nova keypair name
    zones: Mapping[str, str]  # vNext placement id or zone name -> Nova zone name
    hostnames: frozenset[str]  # hostnames already used in the project
    flavor_sizes: Mapping[str, tuple[int, int]] = field(default_factory=dict)  # Nova flavor id -> (vcpus, MB)
    room: Mapping[str, int] = field(default_factory=dict)  # quota left: instances, cores, ram (-1: unlimited)
    groups: frozenset[str] = frozenset()  # server groups the caller can see
    servers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # the project's server ids -> their tags


@dataclass
class Problems:
    found: list[dict[str, str]] = field(default_factory=list)

    def add(self, where: str, message: str) -> None:
        self.found.append({"field": where, "message": message})


def is_uuid(value: Any) -> bool:
    """An id that can be an image's: the kind nova.operations checks too."""
    return isinstance(value, str) and KINDS["uuid"].fullmatch(value) is not None


def pattern_problem(pattern: Any) -> str | None:
    """Why ``defaults.hostname_pattern`` cannot make hostnames, checked before
    it is expanded: a width past a hostname's 63 characters is refused."""
    if not isinstance(pattern, str):
        return None
    for match in _PATTERN.finditer(pattern):
        if len(match.group(1)) > 2 or int(match.group(1) or 6) > MAX_HOSTNAME:
            return f"a number in a hostname is at most {MAX_HOSTNAME} digits wide"
    return None


def expand_hostname(pattern: str, rng: random.Random) -> str:
    """``%(rand_num)5d`` becomes five random digits (the spec also spells it rand_name)."""

    def digits(match: re.Match[str]) -> str:
        width = min(int(match.group(1) or 6), MAX_HOSTNAME)
        return "".join(rng.choice("0123456789") for _ in range(width))

    return _PATTERN.sub(digits, pattern)


def _user_data_problem(value: Any) -> str | None:
    if value is None:
        return None
    try:
        decoded = base64.b64decode(value, validate=True)
    except (ValueError, TypeError):
        return "user_data must be base64"
    if len(decoded) > MAX_USER_DATA_BYTES:
        return f"user_data is at most {MAX_USER_DATA_BYTES} bytes once decoded"
    return None


def group_ids(body: Mapping[str, Any]) -> set[str]:
    """Every server group the request names."""
    named = [(body.get("defaults") or {}).get("group_id")]
    named += [s.get("group_id") for s in body.get("servers") or [] if isinstance(s, Mapping)]
    return {g for g in named if isinstance(g, str)}


def merge_servers(
    body: Mapping[str, Any], rng: random.Random, groups: Mapping[str, Mapping[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """Each server: its group's defaults, then the request's defaults, then its own attributes."""
    defaults = _placed({k: v for k, v in (body.get("defaults") or {}).items() if k != "hostname_pattern"})
    pattern = (body.get("defaults") or {}).get("hostname_pattern")
    merged = []
    for server in body.get("servers") or []:
        entry = {**defaults, **_placed(server)}
        group = (groups or {}).get(entry.get("group_id") or "", {})
        entry = {**_placed({k: v for k, v in group.items() if k != "hostname_pattern"}), **entry}
        server_pattern = pattern or group.get("hostname_pattern")
        if "hostname" not in entry and server_pattern:
            entry["hostname"] = expand_hostname(server_pattern, rng)
        merged.append(entry)
    return merged


def _placed(attributes: Mapping[str, Any]) -> dict[str, Any]:
    """``region_id`` (the seed revision's name) as ``placement_id``, within one
    layer, so a server's own region_id wins over a default placement_id."""
    found = dict(attributes)
    if "region_id" in found and "placement_id" not in found:
        found["placement_id"] = found["region_id"]
    return found


def check_launch(servers: list[dict[str, Any]], facts: NovaFacts) -> list[dict[str, str]]:
    """Every problem with every server, so the caller can fix them all at once."""
    problems = Problems()
    if not servers:
        problems.add("servers", "give at least one server")
    seen: dict[str, int] = {}
    for i, server in enumerate(servers):
        where = f"servers[{i}]"
        hostname = server.get("hostname")
        if not hostname:
            problems.add(f"{where}.hostname", "a hostname is required (or defaults.hostname_pattern)")
        elif len(hostname) > MAX_HOSTNAME:
            problems.add(f"{where}.hostname", f"a hostname is at most {MAX_HOSTNAME} characters")
        elif not _HOSTNAME.match(hostname):
            problems.add(f"{where}.hostname", f"{shown(hostname)} is not a valid hostname")
        elif hostname in facts.hostnames:
            problems.add(f"{where}.hostname", f"{hostname!r} is already used in this project")
        elif hostname in seen:
            problems.add(f"{where}.hostname", f"{hostname!r} is also servers[{seen[hostname]}]'s hostname")
        else:
            seen[hostname] = i
        for key, known, what, hint in (
            ("type_id", facts.flavors, "server type", ""),
            # Keypairs are the proxy's extension (the spec has no keypair
            # resource): say where their ids are found.
            ("keypair_id", facts.keypairs, "keypair of yours", ": GET /keypairs lists yours"),
            ("placement_id", facts.zones, "placement", ""),
        ):
            value = server.get(key)
            if key == "type_id" and value is None:
                problems.add(f"{where}.type_id", "a server type is required")
            elif value is not None and value not in known:
                problems.add(f"{where}.{key}", f"no {what} {shown(value)}{hint}")
        user_data = _user_data_problem(server.get("user_data"))
        if user_data is not None:
            problems.add(f"{where}.user_data", user_data)
        template = server.get("template_id")
        if template is None:
            problems.add(f"{where}.template_id", "a server template (image) is required")
        elif not is_uuid(template) or template not in facts.images:
            problems.add(f"{where}.template_id", f"no server template {shown(template)}")
        if server.get("group_id") is not None and server["group_id"] not in facts.groups:
            problems.add(f"{where}.group_id", f"no server group {shown(server['group_id'])}")
        for side in ("near", "not_near"):
            wanted = (server.get("affinity") or {}).get(side) or {}
            for server_id in wanted.get("server_ids") or []:
                if server_id not in facts.servers:
                    problems.add(f"{where}.affinity.{side}.server_ids", f"no server {shown(server_id)} in this project")
            tags = wanted.get("server_tags") or []
            if tags and not _tagged(facts, tags):
                problems.add(f"{where}.affinity.{side}.server_tags", f"no server in this project is tagged {tags}")
    _check_quota(servers, facts, problems)
    return problems.found


def _check_quota(servers: list[dict[str, Any]], facts: NovaFacts, problems: Problems) -> None:
    """Nova checks quota one server at a time; checking the whole request
    first keeps a launch from stopping half way."""
    flavors = [facts.flavors.get(s.get("type_id") or "") for s in servers]
    if None in flavors or not facts.room:
        return  # an unknown type is reported already
    sizes = [facts.flavor_sizes.get(f or "", (0, 0)) for f in flavors]
    needed = {"instances": len(servers), "cores": sum(s[0] for s in sizes), "ram": sum(s[1] for s in sizes)}
    for what, count in needed.items():
        left = facts.room.get(what, -1)
        if left >= 0 and count > left:
            problems.add("servers", f"over quota: {count} {what} asked for, {left} left")


def nova_server_body(server: Mapping[str, Any], facts: NovaFacts) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": server["hostname"],
        "hostname": server["hostname"],
        "imageRef": server["template_id"],
        "flavorRef": facts.flavors[server["type_id"]],
        # Nova picks (or allocates) the project's network, as vNext leaves
        # networking to the Networking API.
        "networks": "auto",
    }
    if server.get("keypair_id") is not None:
        body["key_name"] = facts.keypairs[server["keypair_id"]]
    if server.get("placement_id") is not None:
        body["availability_zone"] = facts.zones[server["placement_id"]]
    if server.get("user_data") is not None:
        body["user_data"] = server["user_data"]
    hints: dict[str, Any] = {}
    if server.get("group_id") is not None:
        # Nova adds a server to a group only at launch, through this hint.
        hints["group"] = server["group_id"]
    # vNext's affinity is Nova's same_host / different_host hints (they need
    # the SameHostFilter and DifferentHostFilter scheduler filters).
    for side, hint in (("near", "same_host"), ("not_near", "different_host")):
        wanted = (server.get("affinity") or {}).get(side) or {}
        ids = [*(wanted.get("server_ids") or []), *_tagged(facts, wanted.get("server_tags") or [])]
        if ids:
            hints[hint] = list(dict.fromkeys(ids))
    return {"server": body, "os:scheduler_hints": hints} if hints else {"server": body}


def _tagged(facts: NovaFacts, tags: list[str]) -> list[str]:
    return [server_id for server_id, its_tags in facts.servers.items() if set(tags) & set(its_tags)]
