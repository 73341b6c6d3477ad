"""A case's consultation (会商) thread: read it, and add a note or a photo while it lasts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from contract.events import Sha256
from dispatcher.api.deps import Caller, RowId, ServicesDep, for_people, person_of, reading, require
from dispatcher.api.shapes import ConsultationView
from dispatcher.auth import PEOPLE_ROLES
from dispatcher.lifecycle import TransitionError
from dispatcher.services import Services

router = APIRouter(prefix="/api/v1/cases", tags=["consultations"], dependencies=[Depends(require(*PEOPLE_ROLES))])


class NoteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=2000)
    photo_sha256: Sha256 | None = Field(default=None, description="A photo the author uploaded")


def _shown(svc: Services, thread: dict[str, Any]) -> dict[str, Any]:
    """The thread with its photos as signed links."""
    notes = [{**n, "photo_url": svc.links.image(n["photo_sha256"]) if n["photo_sha256"] else None}
             for n in thread["notes"]]
    return {**thread, "notes": notes}


@router.get("/{case_id}/consultation", response_model=ConsultationView)
def consultation(case_id: RowId, svc: ServicesDep, who: Caller) -> dict[str, Any]:
    return _shown(svc, reading(svc.cases.thread, case_id, svc.auth.case_filter(who)))


@router.post("/{case_id}/consultation/notes", response_model=ConsultationView, status_code=201)
def add_note(case_id: RowId, body: NoteBody, svc: ServicesDep, who: Caller) -> dict[str, Any]:
    """A note (and a photo) from a participant: the worker, the leader, the line department."""
    person = person_of(who)
    try:
        thread = reading(svc.cases.add_note, case_id, person, svc.cases.role_of(person), body.text,
                         body.photo_sha256, svc.auth.case_filter(who), who.role)  # shown by their grid role
    except TransitionError as exc:
        raise HTTPException(409, for_people(exc)) from None
    svc.feed.publish({"type": "consultation", "case_id": case_id})
    return _shown(svc, thread)
