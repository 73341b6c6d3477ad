"""What people read, in their language: one gettext catalogue per locale for both halves and the
pages, and local times as people in the town write them.

Messages are written in English in the code (the gettext ``msgid``) and translated in
``i18n/locale/<locale>/LC_MESSAGES/gridpatrol.po``. Simplified Chinese (``zh-CN``) is the
default, English the second language (its catalogue translates nothing: the msgid is the
text). Python code marks a message with ``N_`` (a constant translated later) or translates it
with ``Translator._``; the pages with ``t(...)``, from the same catalogue served as JSON
(``GET /api/v1/i18n/{locale}``). ``make messages`` extracts every marked message with Babel and
merges it into the catalogues; ``tests/test_i18n.py`` fails on a message without a zh-CN entry.

The ``.po`` files are compiled with Babel when first used (no compiled ``.mo`` is kept, so none
can go stale).
"""

from __future__ import annotations

import functools
import gettext
import io
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

Locale = Literal["zh-CN", "en"]
LOCALES: tuple[Locale, ...] = ("zh-CN", "en")
DEFAULT_LOCALE: Locale = "zh-CN"
DOMAIN = "gridpatrol"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"


def N_(message: str) -> str:
    """Marks ``message`` for the catalogue; translated where it is shown."""
    return message


def po_path(locale: Locale) -> Path:
    """The catalogue of ``locale`` (``zh-CN`` → ``locale/zh_CN/LC_MESSAGES/gridpatrol.po``)."""
    return LOCALE_DIR / locale.replace("-", "_") / "LC_MESSAGES" / f"{DOMAIN}.po"


class Msg(str):
    """A message for people that keeps its msgid and values, so that whoever shows it (an API
    error answer, a page) can translate it into the reader's language. As a ``str`` it is the
    English text."""

    msgid: str
    values: dict[str, Any]

    def __new__(cls, msgid: str, **values: Any) -> Msg:
        text = super().__new__(cls, msgid.format(**values) if values else msgid)
        text.msgid, text.values = msgid, values
        return text

    def __reduce__(self) -> tuple[Any, ...]:  # keeps msgid and values through pickling and copying
        return (_rebuild, (self.msgid, self.values))


def _rebuild(msgid: str, values: dict[str, Any]) -> Msg:
    return Msg(msgid, **values)


class Word(str):
    """A code inside a message (an action, a state, a role): in English the code itself
    (``dispatched``), in other languages the town's word for it (已派遣)."""

    msgid: str

    def __new__(cls, code: str, msgid: str | None) -> Word:
        word = super().__new__(cls, code)
        word.msgid = msgid or code
        return word

    def __reduce__(self) -> tuple[Any, ...]:
        return (Word, (str(self), self.msgid))


class Words(str):
    """Several :class:`Word` values in a message: ``accepted, rework`` / ``已受理、返工``."""

    items: tuple[Word, ...]

    def __new__(cls, items: Iterable[Word]) -> Words:
        kept = tuple(items)
        words = super().__new__(cls, ", ".join(kept))
        words.items = kept
        return words

    def __reduce__(self) -> tuple[Any, ...]:
        return (Words, (self.items,))


class Translator:
    """The messages of one locale."""

    def __init__(self, locale: Locale, catalog: gettext.NullTranslations, messages: dict[str, str]) -> None:
        self.locale = locale
        self._catalog = catalog
        self._messages = messages

    def _(self, message: str, **values: Any) -> str:
        """``message`` in this locale, with ``{name}`` fields filled from ``values``."""
        text = self._catalog.gettext(message)
        return text.format(**values) if values else text

    def msg(self, message: str | Msg) -> str:
        """A :class:`Msg` (or a constant message) in this locale; other text as it is."""
        if isinstance(message, Msg):
            return self._(message.msgid, **{k: self.value(v) for k, v in message.values.items()})
        return self._(message)

    def value(self, value: Any) -> Any:
        """A value inside a message: a Msg or a Word translated, anything else as it is."""
        if isinstance(value, Word):
            return str(value) if self.locale == "en" else self._(value.msgid)
        if isinstance(value, Words):
            return str(value) if self.locale == "en" else "、".join(self.value(w) for w in value.items)
        return self.msg(value) if isinstance(value, Msg) else value

    def messages(self) -> dict[str, str]:
        """Every translated message of the catalogue (msgid → text), for the pages."""
        return dict(self._messages)

    def each(self, messages: Iterable[str]) -> list[str]:
        return [self._(m) for m in messages]


def _compile(locale: Locale) -> tuple[gettext.NullTranslations, dict[str, str]]:
    path = po_path(locale)
    if not path.exists():
        return gettext.NullTranslations(), {}
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=locale.replace("-", "_"), domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    messages = {str(m.id): str(m.string) for m in catalog if m.id and m.string and not m.fuzzy}
    return gettext.GNUTranslations(compiled), messages


@functools.cache
def translator(locale: str = DEFAULT_LOCALE) -> Translator:
    """The translator of ``locale`` (a name :func:`negotiate` accepts); compiled once."""
    chosen = negotiate(locale)
    catalog, messages = _compile(chosen)
    return Translator(chosen, catalog, messages)


_TAG = re.compile(r"^\s*([A-Za-z]{1,8}(?:[-_][A-Za-z0-9]{1,8})*)\s*(?:;\s*q\s*=\s*([01](?:\.\d{0,3})?))?\s*$")


def negotiate(header: str | None, default: Locale = DEFAULT_LOCALE) -> Locale:
    """The best of our locales for an ``Accept-Language`` value or a plain tag (``zh``,
    ``zh-CN``, ``zh-Hans``, ``en-GB`` ...); ``default`` when none fits."""
    best: tuple[float, Locale] | None = None
    for part in (header or "")[:500].split(",")[:20]:
        match = _TAG.match(part)
        if not match:
            continue
        tag, quality = match.group(1).lower().replace("_", "-"), float(match.group(2) or 1)
        found: Locale | None = "zh-CN" if tag.startswith("zh") else "en" if tag.startswith("en") else None
        if found and quality > 0 and (best is None or quality > best[0]):
            best = (quality, found)
    return best[1] if best else default


__all__ = [
    "DEFAULT_LOCALE",
    "LOCALES",
    "N_",
    "Locale",
    "Msg",
    "Translator",
    "Word",
    "negotiate",
    "po_path",
    "translator",
]
