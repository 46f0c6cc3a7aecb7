"""The package as an operator gets it: a wheel built from this tree, installed
in a fresh virtualenv outside the checkout, without the devcloud extra. From
there it finds its own mappings, checks its wiring and serves the demo's
calls against devcloud."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import pytest
from helpers import free_port, start_proxy, stop
from users import token

from vnext_proxy import demo
from vnext_proxy.mapping.gapreport import gap_table_markdown
from vnext_proxy.mapping.model import MappingSet

ROOT = Path(__file__).resolve().parents[2]
#: What a checkout has that is not the project's source.
LOCAL_ONLY = (".git", ".venv*", "build", "dist", "var", "*.egg-info", "__pycache__", ".*_cache")


@dataclass(frozen=True)
class Installed:
    bin: Path
    #: A folder outside the checkout, where its commands run.
    home: Path

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        # Nothing of the checkout or of the test run's own virtualenv leaks in.
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
        return subprocess.run(args, cwd=self.home, env=env, capture_output=True, text=True, timeout=timeout)

    @property
    def command(self) -> str:
        return str(self.bin / "vnext-proxy")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    home = tmp_path_factory.mktemp("operator")
    assert ROOT not in home.parents
    source, dist, venv = home / "source", home / "dist", home / "venv"
    # Built from a copy: setuptools' build/ folder in the checkout may hold
    # files of earlier builds, which would end up in the wheel.
    shutil.copytree(ROOT, source, symlinks=True, ignore=shutil.ignore_patterns(*LOCAL_ONLY))
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(dist), str(source)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    (wheel,) = dist.glob("vnext_proxy-*.whl")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", str(wheel)], capture_output=True, text=True, timeout=600
    )
    assert pip.returncode == 0, pip.stderr
    return Installed(venv / "bin", home)


@pytest.fixture
def config(installed: Installed, devcloud: str) -> Iterator[tuple[Path, int]]:
    port = free_port()
    path = installed.home / "vnext-proxy.yaml"
    path.write_text(
        f"nova: {{endpoint: '{devcloud}'}}\n"
        f"listen: {{port: {port}}}\n"
        f"store: {{url: 'sqlite:///{installed.home}/tasks.sqlite3'}}\n"
        "tasks: {poll_interval: 1}\n"
    )
    yield path, port
    path.unlink()


def test_it_imports_from_the_virtualenv_not_the_checkout(installed: Installed) -> None:
    where = installed.run(str(installed.bin / "python"), "-c", "import vnext_proxy; print(vnext_proxy.__file__)")
    package = Path(where.stdout.strip())
    assert "site-packages" in package.parts
    assert ROOT not in package.parents


def test_version_from_the_command_and_from_python_m(installed: Installed) -> None:
    expected = f"vnext-proxy {version('vnext-proxy')}\n"
    assert installed.run(installed.command, "--version").stdout == expected
    assert installed.run(str(installed.bin / "python"), "-m", "vnext_proxy", "--version").stdout == expected


def test_the_shipped_mappings_and_gap_tables(installed: Installed, mappings: MappingSet) -> None:
    result = installed.run(installed.command, "mappings", "check")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        f"ok: {len(mappings.routes)} routes and {len(mappings.objects)} objects in "
        f"{installed.home}/venv/lib/python{sys.version_info.major}.{sys.version_info.minor}"
        "/site-packages/vnext_proxy/mappings\n"
    )
    table = installed.run(installed.command, "mappings", "table")
    assert table.stdout == gap_table_markdown(mappings)


def test_check_finds_devcloud(installed: Installed, config: tuple[Path, int], devcloud: str) -> None:
    result = installed.run(installed.command, "check", "--config", str(config[0]))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"ok: Nova's endpoint is {devcloud}" in result.stdout
    assert "PROBLEM" not in result.stdout


def test_the_systemd_unit_runs_the_installed_command(installed: Installed) -> None:
    verify = shutil.which("systemd-analyze")
    if verify is None:
        pytest.skip("systemd-analyze is not installed")
    unit = (ROOT / "contrib" / "vnext-proxy.service").read_text()
    assert "ExecStart=/opt/vnext-proxy/bin/vnext-proxy serve --config " in unit
    path = installed.home / "vnext-proxy.service"
    path.write_text(unit.replace("/opt/vnext-proxy/bin/", f"{installed.bin}/"))
    result = installed.run(verify, "verify", str(path))
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


@pytest.fixture
async def served(installed: Installed, config: tuple[Path, int]) -> AsyncIterator[str]:
    path, port = config
    proc = await start_proxy(path, port, command=installed.command, cwd=installed.home)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await stop(proc)


async def test_it_serves_the_demos_calls(
    served: str, devcloud: str, forget_servers, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    server_id = await demo.tour(served, devcloud, token(demo.USER))
    try:
        shown = capsys.readouterr().out
        assert '"name": "m1.tiny"' in shown, shown
        assert "task POWER_OFF: COMPLETED" in shown, shown
    finally:
        forget_servers([server_id])
