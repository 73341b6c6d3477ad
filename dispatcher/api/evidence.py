"""Evidence images: uploaded by edge boxes (and workers' after photos), read through signed,
expiring links or with a token."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from dispatcher.api.deps import ServicesDep, bearer_token, for_people, require
from dispatcher.api.shapes import StoredEvidence
from dispatcher.auth import PEOPLE_ROLES, Principal
from dispatcher.config import EVIDENCE_BODY_CEILING
from dispatcher.evidence import EvidenceRejected, EvidenceUnavailable
from i18n import Msg

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1/evidence", tags=["evidence"])
Uploader = Annotated[Principal, Depends(require("edge", *PEOPLE_ROLES))]


# An image is named by its content: the lower-case hex SHA-256 and .jpg.
EvidenceName = Annotated[str, PathParam(pattern=r"^[0-9a-f]{64}\.jpg$", description="<sha256>.jpg")]


@router.put("/{name}", status_code=201, max_body_size=EVIDENCE_BODY_CEILING, response_model=StoredEvidence)
async def put_evidence(name: EvidenceName, request: Request, svc: ServicesDep, who: Uploader) -> dict[str, str]:
    """Store an image (a JPEG that decodes, at most ``max_evidence_bytes``) and record who
    uploaded it: the uploader may read it back and, for a person, attach it as an after photo."""
    if request.headers.get("content-type", "") != "image/jpeg":
        raise HTTPException(415, Msg("evidence must be sent as image/jpeg"))
    declared = request.headers.get("content-length")
    if declared and (not declared.isdigit() or int(declared) > svc.config.max_evidence_bytes):
        raise HTTPException(413, f"image over {svc.config.max_evidence_bytes} bytes")
    data = bytearray()  # read as it comes: a chunked upload declares no length
    async for chunk in request.stream():
        data += chunk
        if len(data) > svc.config.max_evidence_bytes:
            raise HTTPException(413, f"image over {svc.config.max_evidence_bytes} bytes")
    try:
        await run_in_threadpool(svc.evidence.put, name.removesuffix(".jpg"), bytes(data))
    except EvidenceRejected as exc:
        raise HTTPException(422, for_people(exc)) from None
    except EvidenceUnavailable as exc:
        log.error("%s", exc)
        raise HTTPException(503, Msg("the evidence store is unavailable: try again later")) from None
    await run_in_threadpool(svc.auth.record_upload, who, name.removesuffix(".jpg"))
    return {"url": f"{svc.config.public_url()}/api/v1/evidence/{name}"}


@router.get("/{name}")
def get_evidence(name: EvidenceName, request: Request, svc: ServicesDep,
                 exp: Annotated[int | None, Query(ge=0, le=2**62)] = None,
                 sig: Annotated[str | None, Query(max_length=64)] = None) -> Response:
    """With ``exp`` and ``sig`` from a signed link (what the case API hands out to those who
    may read the case), or an ``Authorization: Bearer`` token of someone who may read a case
    that references the image, or who uploaded it."""
    sha = name.removesuffix(".jpg")
    if exp is not None and sig is not None:
        if not svc.links.valid(name, exp, sig):
            raise HTTPException(403, Msg("the link is expired or not genuine"))
    else:
        token = bearer_token(request.headers)
        who = svc.auth.authenticate(token) if token else None
        if who is None:
            raise HTTPException(401, Msg("evidence needs a signed link or a token"),
                                headers={"WWW-Authenticate": "Bearer"})
        if not svc.auth.may_read_evidence(who, sha):
            raise HTTPException(403, Msg("no case of yours shows this image"))
    try:
        image = svc.evidence.get(sha)
    except EvidenceUnavailable as exc:
        log.error("%s", exc)
        raise HTTPException(503, Msg("the evidence store is unavailable: try again later")) from None
    if image is None:
        raise HTTPException(404, Msg("no such evidence"))
    return Response(image, media_type="image/jpeg", headers={"cache-control": "private, max-age=3600"})
