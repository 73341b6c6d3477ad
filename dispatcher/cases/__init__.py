"""Cases: an ``opened`` event opens a case, dispatched to the micro-grid's worker; people move
it through the closed loop (``lifecycle``); ``cleared`` records that the camera saw the spot
free and verifies a handled case. Every event is stored once, by event_id; every action is
written to the audit trail; deadlines are stored as timers in the same transaction.

By caller: ``intake`` (events from ingest, with ``spots``, what one batch looks up),
``actions`` (people's steps of the loop, each action's effects beside ``lifecycle.RULES``),
``delivery`` (receipts, pages that showed a case, the next channel, escalation by the
scheduler), ``reading`` (what a caller may see, for the API), ``views`` (what the API and the
city platform are shown of a case); ``core`` holds what they share.
"""

from dispatcher.cases.consultation import Consultation
from dispatcher.cases.core import (
    CAMERA,
    MAX_EXTEND_MIN,
    OWNER_PREFIX,
    SYSTEM,
    UNLOCATED,
    ActionResult,
    CaseActionError,
    IngestResult,
    chain_rows,
    deliveries,
    link_evidence,
    uploader_key,
)
from dispatcher.cases.delivery import Delivery
from dispatcher.cases.intake import Intake
from dispatcher.cases.reading import CaseQuery
from dispatcher.cases.reports import PeopleReport, Reports
from dispatcher.cases.spots import Batch
from dispatcher.cases.views import CITY_FIELDS, case_summary, city_payload, transition_summary


class CaseService(Intake, Reports, Delivery, Consultation):
    """The case service the dispatcher holds: intake of the cameras' events and people's reports,
    people's actions, delivery and escalation, and reading for the API."""


__all__ = [
    "CAMERA",
    "CITY_FIELDS",
    "MAX_EXTEND_MIN",
    "OWNER_PREFIX",
    "SYSTEM",
    "UNLOCATED",
    "ActionResult",
    "Batch",
    "CaseActionError",
    "CaseQuery",
    "CaseService",
    "IngestResult",
    "PeopleReport",
    "case_summary",
    "chain_rows",
    "city_payload",
    "deliveries",
    "link_evidence",
    "transition_summary",
    "uploader_key",
]
