"""The gap table is generated from the mappings, and the README shows it as generated."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from vnext_proxy.mapping.gapreport import gap_table_markdown
from vnext_proxy.mapping.loader import packaged_mappings
from vnext_proxy.mapping.model import MappingSet

ROOT = Path(__file__).resolve().parents[2]


def test_every_row_of_both_gap_tables_is_listed(mappings: MappingSet) -> None:
    table = gap_table_markdown(mappings)
    assert len(mappings.gap_rows) == 59
    for purpose in mappings.gap_rows:
        assert f"\n{purpose.replace('|', chr(92) + '|')} | " in table
    assert "**unmapped**" not in table
    assert "| mapped | `GET /servers/{server_id}` | both" in table
    assert "| not_applicable | use the Networking API (Neutron) | both" in table


def test_extensions_follow_the_spec_rows_with_their_reasons(mappings: MappingSet) -> None:
    """Routes the spec lacks are listed after its rows, each with why the proxy adds it."""
    table = gap_table_markdown(mappings)
    head, extensions = table.split("### Extensions\n", 1)
    assert "keypairs" not in head
    why = "the spec requires keypair_id to launch but has no keypair resource"
    rows = [line for line in extensions.splitlines() if line.startswith("`")]
    assert rows == [
        f"`GET /keypairs{{?limit,marker}}` | {next(r.summary for r in mappings.routes if r.rel == 'keypairs')} "
        f"| mapped | {why}",
        f"`GET /keypairs/{{keypair}}` | {next(r.summary for r in mappings.routes if r.rel == 'keypair')} "
        f"| mapped | {why}",
        f"`GET /openapi.json` | {next(r.summary for r in mappings.routes if r.rel == 'openapi')} | proxy "
        "| client generators and API fuzzers read OpenAPI, which the spec does not publish",
    ]


def test_readme_shows_the_generated_table(mappings: MappingSet) -> None:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("<!-- gap-table:start -->\n") + len("<!-- gap-table:start -->\n")
    end = readme.index("<!-- gap-table:end -->")
    assert readme[start:end] == gap_table_markdown(mappings), (
        "README's gap table is stale: run `vnext-proxy mappings table --update-readme README.md`"
    )


def test_mappings_check_refuses_a_broken_mapping_with_file_and_line(tmp_path: Path) -> None:
    broken = tmp_path / "mappings"
    shutil.copytree(str(packaged_mappings()), broken)
    text = (broken / "servers.yaml").read_text()
    (broken / "servers.yaml").write_text(text.replace("path: /servers/{server_id}\n", "path: /servers/{id}\n", 1))
    result = subprocess.run(
        [sys.executable, "-m", "vnext_proxy", "mappings", "check", "--dir", str(broken)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    line = text[: text.index("path: /servers/{server_id}\n")].count("\n") + 1
    assert result.stderr == (
        f"error: mappings/servers.yaml:{line}: routes[0].nova[0].path: "
        "placeholder '{id}' is not bound by the vNext route\n"
    )
