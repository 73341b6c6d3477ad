"""A case's consultation (会商): asking for help (``consult``) opens a thread with its
participants (the worker, the micro-grid's leader, the line department for the kind), each
told on their channels; they add notes and photos while it lasts; it ends with the leader's
decision: handled by the grid (``resume``), handed to the line department (``escalate``), or
``void``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from dispatcher.cases.core import consultation_of, link_evidence, own_photo
from dispatcher.cases.reading import Reading, Where
from dispatcher.db import ConsultNoteRow, now
from dispatcher.lifecycle import CaseState, Role, TransitionError
from i18n import Msg


class Consultation(Reading):
    def thread(self, case_id: int, where: Where) -> dict[str, Any]:
        """The participants and the notes, oldest first (photos by their SHA-256)."""
        with self.sessions() as session:
            case = self.visible(session, case_id, where)
            notes = session.scalars(select(ConsultNoteRow).where(ConsultNoteRow.case_id == case_id)
                                    .order_by(ConsultNoteRow.id)).all()
            return {"state": case.state, "participants": consultation_of(case, self.grid),
                    "notes": [{"author_id": n.author_id, "author_role": n.author_role, "text": n.text,
                               "photo_sha256": n.photo_sha256, "at": n.at.isoformat()} for n in notes]}

    def add_note(self, case_id: int, person_id: str, role: Role, text: str, photo_sha256: str | None,
                 where: Where, author_role: str | None = None) -> dict[str, Any]:
        """A participant's (or a dispatcher's) note while the consultation lasts; PermissionError
        for anyone else, TransitionError once it has ended or for a photo not theirs."""
        with self.sessions() as session:
            case = self.visible(session, case_id, where)
            if role is not Role.dispatcher and person_id not in consultation_of(case, self.grid):
                raise PermissionError(Msg("only the consultation's participants add to it"))
            if case.state != CaseState.consult.value:
                raise TransitionError(Msg("the consultation has ended"))
            if photo_sha256 is not None:
                own_photo(session, photo_sha256, person_id, "photo_sha256")
                link_evidence(session, {(case_id, photo_sha256): "consult"})
            session.add(ConsultNoteRow(case_id=case_id, author_id=person_id, author_role=author_role or role.value,
                                       text=text,
                                       photo_sha256=photo_sha256, at=now()))
            session.commit()
        return self.thread(case_id, where)
