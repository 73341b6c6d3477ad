"""Finds every message people read, in the code and the pages, with Babel's extractors:

- Python (contract, edge, dispatcher, gridpatrol, i18n): ``_("...")`` (a Translator's),
  ``N_("...")`` (marked, translated where shown) and ``Msg("...")`` (an error for people);
- the pages' scripts (dispatcher/web, vendored libraries left out): ``t("...")``;
- the pages' HTML: ``data-t``, ``data-t-placeholder`` and ``data-t-title`` attributes.

``python -m i18n.extract`` merges what it finds into every catalogue (new messages in,
vanished ones out) and says how many zh-CN entries still want a translation.
"""

from __future__ import annotations

import contextlib
import io
import re
import sys
from collections.abc import Iterator
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po, write_po

from i18n import DOMAIN, LOCALES, po_path

ROOT = Path(__file__).resolve().parents[1]
PYTHON_DIRS = ("contract", "edge", "dispatcher", "gridpatrol", "i18n")
WEB_DIR = ROOT / "dispatcher" / "web"
PY_KEYWORDS = {"_": None, "N_": None, "Msg": None}
JS_KEYWORDS = {"t": None}
SOURCE_LOCALE = "en"
_HTML_ATTR = re.compile(r'data-t(?:-placeholder|-title)?="([^"]+)"')
_JS_CALL = re.compile(r'\bt\("((?:[^"\\\n]|\\.)+)"')  # also t("...") inside template literals


def _sources() -> Iterator[tuple[Path, str]]:
    for folder in PYTHON_DIRS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path, "python"
    for path in sorted(WEB_DIR.rglob("*")):
        if "vendor" in path.parts:
            continue
        if path.suffix == ".js":
            yield path, "javascript"
        elif path.suffix == ".html":
            yield path, "html"


def extract() -> dict[str, list[tuple[str, int]]]:
    """Every message (msgid) with where it is used (path relative to the project, line)."""
    found: dict[str, list[tuple[str, int]]] = {}
    for path, method in _sources():
        where = str(path.relative_to(ROOT))
        if method == "html":
            for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                for message in _HTML_ATTR.findall(line):
                    found.setdefault(message, []).append((where, lineno))
            continue
        keywords = PY_KEYWORDS if method == "python" else JS_KEYWORDS
        with contextlib.redirect_stderr(io.StringIO()):  # Babel's note on f-strings given as values: not msgids
            extracted = list(extract_from_file(method, str(path), keywords=keywords))
        for lineno, message, _comments, _context in extracted:
            if isinstance(message, str) and message:
                found.setdefault(message, []).append((where, lineno))
        if method == "javascript":  # Babel's lexer does not look inside `${...}`: a plain scan as well
            for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                for message in _JS_CALL.findall(line):
                    if (where, lineno) not in found.get(message, []):
                        found.setdefault(message, []).append((where, lineno))
    return found


def update() -> dict[str, int]:
    """Merges the messages into each locale's catalogue; the count of untranslated entries."""
    found = extract()
    missing: dict[str, int] = {}
    for locale in LOCALES:
        if locale == SOURCE_LOCALE:  # the msgids are its text
            continue
        path = po_path(locale)
        old = None
        if path.exists():
            with path.open("rb") as fh:
                old = read_po(fh, locale=locale.replace("-", "_"), domain=DOMAIN)
        catalog = Catalog(locale=locale.replace("-", "_"), domain=DOMAIN, project="GridPatrol",
                          language_team=locale, charset="utf-8")
        for msgid in sorted(found):
            previous = (old.get(msgid) or old.obsolete.get(msgid)) if old else None
            catalog.add(msgid, previous.string if previous else "", locations=found[msgid][:3])
        for kept in (old.obsolete.values() if old else ()):  # translations of messages gone for now: kept
            if kept.id not in found and kept.string:
                catalog.obsolete[kept.id] = kept
        for message in (old or ()):
            if message.id and message.id not in found and message.string:
                catalog.obsolete[message.id] = message
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            write_po(fh, catalog, width=100, omit_header=False, sort_output=True, include_lineno=True)
        missing[locale] = sum(1 for m in catalog if m.id and not m.string)
    return missing


if __name__ == "__main__":
    counts = update()
    print(", ".join(f"{locale}: {n} without a translation" for locale, n in counts.items()))
    sys.exit(0)
