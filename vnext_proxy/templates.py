"""Level-1 RFC 6570 templates ({var}), compiled once and expanded fast.

Paths and links in the mappings use only simple expressions (the loader
checks), so expanding one is joining literal parts with quoted values;
uritemplate, which parses the template on every call, stays the checker.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from vnext_proxy.errors import VNextError

_SIMPLE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class SimpleTemplate:
    __slots__ = ("literals", "names")

    def __init__(self, template: str) -> None:
        parts = _SIMPLE.split(template)
        self.literals: tuple[str, ...] = tuple(parts[0::2])
        self.names: tuple[str, ...] = tuple(parts[1::2])

    def expand(self, values: Mapping[str, Any]) -> str:
        out = [self.literals[0]]
        for name, literal in zip(self.names, self.literals[1:], strict=True):
            value = values.get(name)
            if value is not None:
                text = str(value)
                if text in (".", ".."):
                    # Quoting leaves dots alone, and a URL resolves these away.
                    raise VNextError(404, f"no such {name}: {text!r}")
                out.append(quote(text, safe=""))
            out.append(literal)
        return "".join(out)


@lru_cache(maxsize=4096)
def compile_template(template: str) -> SimpleTemplate:
    """The loader compiles every template at start-up; requests find them here."""
    return SimpleTemplate(template)
