"""The dispatcher's tables (SQLAlchemy 2), SQLite by default, PostgreSQL in production:
``base`` (UTC times, the declarative base), ``cases`` (the case loop's tables), ``people``
(people's and machines' tables), ``engine`` (engines, sessions, Alembic migrations). Import
from here: ``from dispatcher.db import CaseRow, make_sessions``.
"""

from dispatcher.db.base import Base, UtcDateTime, now
from dispatcher.db.cases import (
    CaseEvidenceRow,
    CaseRow,
    CaseTransitionRow,
    ConsultNoteRow,
    EventRow,
    NotificationRow,
    OutboundRow,
    QuarantineRow,
    RatingLinkRow,
    TimerRow,
)
from dispatcher.db.engine import MIGRATIONS, alembic_config, insert_rows, make_engine, make_sessions, migrate
from dispatcher.db.people import (
    ApiTokenRow,
    CredentialRow,
    EvidenceUploadRow,
    FeedTicketRow,
    GridVersionRow,
    LoginFailureRow,
    PresenceRow,
    PushSubscriptionRow,
    RateBucketRow,
    SharedSecretRow,
)

__all__ = [
    "MIGRATIONS",
    "ApiTokenRow",
    "Base",
    "CaseEvidenceRow",
    "CaseRow",
    "CaseTransitionRow",
    "ConsultNoteRow",
    "CredentialRow",
    "EventRow",
    "EvidenceUploadRow",
    "FeedTicketRow",
    "GridVersionRow",
    "LoginFailureRow",
    "NotificationRow",
    "OutboundRow",
    "PresenceRow",
    "PushSubscriptionRow",
    "QuarantineRow",
    "RateBucketRow",
    "RatingLinkRow",
    "SharedSecretRow",
    "TimerRow",
    "UtcDateTime",
    "alembic_config",
    "insert_rows",
    "make_engine",
    "make_sessions",
    "migrate",
    "now",
]
