"""Times: Nova writes them several ways, vNext shows them one way."""

from __future__ import annotations

from datetime import UTC, datetime

from vnext_proxy.errors import VNextError

VNEXT_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def parse_time(value: str, *, zone_required: bool = False) -> datetime:
    """Nova's '2026-01-02T03:04:05Z' and '...05.123456' (UTC without a zone),
    or any ISO 8601 time, in UTC; naive times are taken as UTC unless
    ``zone_required``. Raises ValueError."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        if zone_required:
            raise ValueError("a time without its zone")
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59:59-23:59 is past what UTC can hold
        raise ValueError(f"{value[:40]!r} is outside the times UTC can represent") from None


def show_time(value: datetime | None) -> str | None:
    """vNext shows ISO 8601 in UTC with a Z, to the second."""
    return value.astimezone(UTC).strftime(VNEXT_FORMAT) if value is not None else None


def since(value: str, field: str = "since") -> datetime:
    """A ``since`` query value: an ISO 8601 time with its zone (a caller must
    say the zone, not have UTC assumed); 400 naming ``field`` otherwise."""
    try:
        return parse_time(value, zone_required=True)
    except ValueError:
        message = f"{field} must be an ISO 8601 date and time with its zone (for example 2026-01-02T03:04:05Z)"
        raise VNextError(400, message, field=field) from None
