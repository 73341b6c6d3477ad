"""Evidence images: uploaded by edge boxes (and workers' after photos), read through signed,
expiring links or with a token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, Response

from dispatcher.api.deps import ServicesDep, bearer_token, require
from dispatcher.auth import PEOPLE_ROLES, Principal
from dispatcher.evidence import EvidenceRejected

router = APIRouter(prefix="/api/v1/evidence", tags=["evidence"])
Uploader = Annotated[Principal, Depends(require("edge", *PEOPLE_ROLES))]


@router.put("/{name}", status_code=201)
async def put_evidence(name: str, request: Request, svc: ServicesDep, _: Uploader) -> dict[str, str]:
    if not name.endswith(".jpg"):
        raise HTTPException(404, "evidence names end in .jpg")
    if request.headers.get("content-type", "") != "image/jpeg":
        raise HTTPException(415, "evidence must be sent as image/jpeg")
    declared = request.headers.get("content-length")
    if declared and (not declared.isdigit() or int(declared) > svc.config.max_evidence_bytes):
        raise HTTPException(413, f"image over {svc.config.max_evidence_bytes} bytes")
    data = bytearray()  # read as it comes: a chunked upload declares no length
    async for chunk in request.stream():
        data += chunk
        if len(data) > svc.config.max_evidence_bytes:
            raise HTTPException(413, f"image over {svc.config.max_evidence_bytes} bytes")
    try:
        svc.evidence.put(name.removesuffix(".jpg"), bytes(data))
    except EvidenceRejected as exc:
        raise HTTPException(422, str(exc)) from None
    return {"url": f"{svc.config.public_url()}/api/v1/evidence/{name}"}


@router.get("/{name}")
def get_evidence(name: str, request: Request, svc: ServicesDep, exp: int | None = None,
                 sig: str | None = None) -> Response:
    """With ``exp`` and ``sig`` from a signed link (what the case API hands out), or a token."""
    if exp is not None and sig is not None:
        if not svc.links.valid(name, exp, sig):
            raise HTTPException(403, "the link is expired or not genuine")
    else:
        token = bearer_token(request.headers, request.query_params)
        if not token or svc.auth.authenticate(token) is None:
            raise HTTPException(401, "evidence needs a signed link or a token", headers={"WWW-Authenticate": "Bearer"})
    try:
        path = svc.evidence.path(name.removesuffix(".jpg"))
    except EvidenceRejected:
        raise HTTPException(404, "no such evidence") from None
    if not name.endswith(".jpg") or not path.exists():
        raise HTTPException(404, "no such evidence")
    return FileResponse(path, media_type="image/jpeg")
