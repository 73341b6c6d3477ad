"""The pages' words: the catalogue of a language, the town's words for codes, its time zone.
No login needed (the login form is in the town's language too); it holds nothing private."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from dispatcher.api.deps import ServicesDep
from dispatcher.api.shapes import PageWords
from i18n import LOCALES, negotiate, translator
from i18n.terms import terms

router = APIRouter(prefix="/api/v1", tags=["i18n"])


@router.get("/i18n", response_model=PageWords)
def page_words(svc: ServicesDep, response: Response,
               locale: Annotated[str | None, Query(max_length=35, description="zh-CN or en; unset: the town's")]
               = None) -> dict[str, Any]:
    """Every message of ``locale`` (msgid → text; a message missing here is shown as its msgid),
    the town's words for kinds, states, actions, roles and channels, the standard event code of
    each kind, and the town's locale and time zone (pages show every time in it)."""
    tr = translator(negotiate(locale, svc.config.locale) if locale else svc.config.locale)
    response.headers["cache-control"] = "public, max-age=300"
    return {"locale": tr.locale, "town_locale": svc.config.locale, "locales": list(LOCALES),
            "timezone": svc.config.timezone, "messages": tr.messages(), "terms": terms(tr),
            "event_codes": {kind.value: code for kind, code in svc.config.event_codes.items()}}
