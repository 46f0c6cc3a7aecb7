"""Times: Nova writes them several ways, vNext shows them one way."""

from __future__ import annotations

from datetime import UTC, datetime

VNEXT_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def parse_time(value: str) -> datetime:
    """Nova's '2026-01-02T03:04:05Z' and '...05.123456' (UTC without a zone),
    or any ISO 8601 time; naive times are taken as UTC. Raises ValueError."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def show_time(value: datetime | None) -> str | None:
    """vNext shows ISO 8601 in UTC with a Z, to the second."""
    return value.astimezone(UTC).strftime(VNEXT_FORMAT) if value is not None else None
