"""docs/mappings.md is the mapping format's JSON-Schema, in words: generated, never drifting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from vnext_proxy.cli import main
from vnext_proxy.mapping.format import MAPPING_FILE_SCHEMA
from vnext_proxy.mapping.formatdoc import REGENERATE, render_format_reference, undescribed_keys

ROOT = Path(__file__).resolve().parents[2]


def test_docs_mappings_md_is_the_generated_reference() -> None:
    written = (ROOT / "docs" / "mappings.md").read_text(encoding="utf-8")
    assert written == render_format_reference(), f"docs/mappings.md is out of date: run `{REGENERATE}`"


def test_every_key_of_the_format_says_what_it_means() -> None:
    assert undescribed_keys() == [], "add a description to these keys (vnext_proxy/mapping/format.py, task_actions.py)"


def test_an_undescribed_key_is_found() -> None:
    schema: dict[str, Any] = {
        "description": "a file",
        "properties": {"a": {"type": "string"}, "b": {"description": "b", "properties": {"c": {}}}},
    }
    assert undescribed_keys(schema) == ["a", "b.c"]


def test_every_key_is_in_the_reference() -> None:
    text = render_format_reference()

    def keys(schema: Any) -> set[str]:
        found: set[str] = set()
        if isinstance(schema, dict):
            for name, value in schema.items():
                if name == "properties":
                    found |= set(value)
                found |= keys(value)
        elif isinstance(schema, list):
            for value in schema:
                found |= keys(value)
        return found

    for key in keys(MAPPING_FILE_SCHEMA):
        assert f"\n`{key}` | " in text, key


def test_the_command_prints_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mappings", "reference"]) == 0
    assert capsys.readouterr().out == render_format_reference()
