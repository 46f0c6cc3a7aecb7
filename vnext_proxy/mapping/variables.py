"""Variables a mapping may use beyond the route's own: facts about the caller
that the proxy finds out from Nova when (and only when) a route needs them.
The values come from ``vnext_proxy.nova.caller``; only the names live here,
so the loader can check templates without doing I/O."""

from __future__ import annotations

PROVIDED_VARIABLES: dict[str, str] = {
    "caller_all_tenants": '"1" when the caller may list every project (admin), else absent',
}
