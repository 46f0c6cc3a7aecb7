"""Config loading: every problem named with file, line and key; good files frozen."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from vnext_proxy.config import deadline_problems, load_settings, parse_settings
from vnext_proxy.mapping.loader import load_mappings, packaged_mappings
from vnext_proxy.yamlsource import InputError

ROOT = Path(__file__).resolve().parents[2]


def problems_of(text: str) -> list[str]:
    with pytest.raises(InputError) as info:
        parse_settings(text, "c.yaml")
    return [str(p) for p in info.value.problems]


def test_example_config_loads_and_documents_every_key() -> None:
    settings = load_settings(ROOT / "config.example.yaml")
    assert settings.nova.endpoint == "http://127.0.0.1:8774/v2.1"
    assert settings.tasks.deadline_for("RESIZE") == 900
    assert settings.tasks.deadline_for("PAUSE") == settings.tasks.default_deadline
    text = (ROOT / "config.example.yaml").read_text()
    for key in ("host", "port", "endpoint", "auth_url", "interface", "region_name", "microversion",
                "connect", "request", "poll_interval", "default_deadline", "deadlines",
                "service_credentials", "url", "level", "mappings_dir", "id_namespace", "explain", "access_log", "workers",
                "max_body_bytes", "max_servers_per_launch", "cache_bytes", "request_timeout", "shutdown_timeout",
                "idle_timeout"):  # fmt: skip
        assert f"{key}:" in text, key


def test_minimal_config_gets_defaults() -> None:
    settings = parse_settings("nova:\n  endpoint: http://nova:8774/v2.1/\n")
    assert settings.nova.endpoint == "http://nova:8774/v2.1"
    assert settings.port == 8780
    assert settings.store_url.startswith("sqlite://")
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.port = 1  # type: ignore[misc]


def test_unknown_key_is_named_with_its_line() -> None:
    assert problems_of("nova:\n  endpoint: http://x\nlisten:\n  port: 80\n  hots: a\n") == [
        "c.yaml:5: listen.hots: unknown key (known keys: host, port, workers)"
    ]


def test_wrong_type_and_missing_key_are_all_reported() -> None:
    found = problems_of("listen:\n  port: eighty\nstore: {url: mysql://x}\n")
    assert "c.yaml:1: missing required key 'nova'" in found
    assert "c.yaml:2: listen.port: must be an integer, got 'eighty'" in found
    assert any(p.startswith("c.yaml:3: store.url:") for p in found)


def test_endpoint_and_keystone_are_exclusive() -> None:
    found = problems_of("nova:\n  endpoint: http://x\n  keystone: {auth_url: http://k}\n")
    assert found == ["c.yaml:1: nova: give exactly one of 'endpoint' (a static Nova URL) or 'keystone'"]


def test_deadline_for_unknown_action() -> None:
    """The task actions are the mappings' (server_tasks.yaml): a deadline is
    checked against them once both are read, with the config's file and line."""
    actions = load_mappings().actions
    settings = parse_settings(
        "nova: {endpoint: http://x}\ntasks:\n  deadlines:\n    REBOOT: 10\n    EXPLODE: 5\n", "c.yaml"
    )
    assert settings.tasks.deadline_for("EXPLODE") == 5
    found = [str(p) for p in deadline_problems(settings.tasks, actions)]
    assert len(found) == 1
    assert found[0].startswith("c.yaml:5: tasks.deadlines.EXPLODE: unknown key: not a task action of the mappings (")
    assert "REBOOT" in found[0]
    assert deadline_problems(load_settings(ROOT / "config.example.yaml").tasks, actions) == []
    # A mapping set that declares EXPLODE accepts it.
    assert deadline_problems(settings.tasks, {*actions, "EXPLODE"}) == []


def test_check_refuses_a_deadline_for_an_unknown_action(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("nova: {endpoint: http://127.0.0.1:9/v2.1}\ntasks:\n  deadlines:\n    EXPLODE: 5\n")
    result = subprocess.run(
        [sys.executable, "-m", "vnext_proxy", "check", "--config", str(config)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {config}:4: tasks.deadlines.EXPLODE: unknown key"), result.stderr


def test_duplicate_key_and_bad_yaml() -> None:
    assert problems_of("nova: {endpoint: http://x}\nnova: {endpoint: http://y}\n") == ["c.yaml:2: nova: duplicate key"]
    assert problems_of("nova: [\n")[0].startswith("c.yaml:2: invalid YAML")


def test_credentials_never_appear_in_repr() -> None:
    settings = parse_settings(
        "nova: {endpoint: http://x}\n"
        "tasks:\n  service_credentials: {username: svc, password: s3cret, project_name: service, auth_url: http://k}\n"
    )
    assert "s3cret" not in repr(settings)


def test_serve_refuses_a_bad_config_with_one_line_per_problem(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("nova:\n  endpoint: http://127.0.0.1:1/v2.1\n  timeouts: {connect: soon}\nlisten: {prot: 1}\n")
    result = subprocess.run(
        [sys.executable, "-m", "vnext_proxy", "serve", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [
        f"error: {config}:4: listen.prot: unknown key (known keys: host, port, workers)",
        f"error: {config}:3: nova.timeouts.connect: must be a number, got 'soon'",
    ]


def test_mappings_dir_names_the_operators_own_mappings(tmp_path: Path) -> None:
    """The package serves its own mappings unless the config names others:
    then those are read, and their problems stop start-up with file and line."""
    own = tmp_path / "my-mappings"
    shutil.copytree(str(packaged_mappings()), own)
    text = (own / "servers.yaml").read_text()
    (own / "servers.yaml").write_text(text.replace("method: GET", "method: FETCH", 1))
    config = tmp_path / "c.yaml"
    config.write_text("nova:\n  endpoint: http://127.0.0.1:9/v2.1\nmappings_dir: my-mappings\n")
    assert load_settings(config).mappings_dir == own
    result = subprocess.run(
        [sys.executable, "-m", "vnext_proxy", "serve", "--config", str(config)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    line = text[: text.index("method: GET")].count("\n") + 1
    assert result.stderr.startswith(f"error: my-mappings/servers.yaml:{line}: "), result.stderr
    assert load_settings(ROOT / "config.example.yaml").mappings_dir is None
