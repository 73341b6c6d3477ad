"""Times as people in the town read them: local (the town's zone, Asia/Shanghai by default)
and in their language's usual form. Stored times stay UTC; only what people see is local.

    zh-CN: 12月4日 09:58 · 2026年12月4日 09:58:01 · 3分钟前
    en:    4 Dec 09:58  · 4 Dec 2026 09:58:01     · 3 minutes ago
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_datetime, format_timedelta

from i18n import Locale

_SHORT = {"zh-CN": "M月d日 HH:mm", "en": "d MMM HH:mm"}
_FULL = {"zh-CN": "yyyy年M月d日 HH:mm:ss", "en": "d MMM yyyy HH:mm:ss"}
_STAMP = "yyyy-MM-dd HH:mm:ss"  # captions burnt into evidence: one form for every language


def _babel(locale: Locale) -> str:
    return locale.replace("-", "_")


def local(at: datetime, timezone: str) -> datetime:
    """``at`` (aware; naive counts as UTC) in the town's zone."""
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(ZoneInfo(timezone))


def short_time(at: datetime | None, timezone: str, locale: Locale) -> str:
    """``12月4日 09:58``: a case's times in lists and messages."""
    if at is None:
        return ""
    return format_datetime(local(at, timezone), _SHORT[locale], locale=_babel(locale))


def full_time(at: datetime | None, timezone: str, locale: Locale) -> str:
    """``2026年12月4日 09:58:01``: where the year and the second matter (CSVs, audit trails)."""
    if at is None:
        return ""
    return format_datetime(local(at, timezone), _FULL[locale], locale=_babel(locale))


def stamp(at: datetime, timezone: str) -> str:
    """``2026-12-04 09:58:01`` local: the time burnt into an evidence image."""
    return format_datetime(local(at, timezone), _STAMP, locale="en")


def age(at: datetime, now: datetime, locale: Locale) -> str:
    """How long ago: ``3分钟前`` / ``3 minutes ago``."""
    delta = (at if at.tzinfo else at.replace(tzinfo=UTC)) - now
    return format_timedelta(min(delta, timedelta(0)), add_direction=True, locale=_babel(locale))
