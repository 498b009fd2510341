"""SQLModel tables. Importing this package registers every table on the shared metadata."""

from models.audit import AuditChain, AuditEvent
from models.base import metadata
from models.domain import Domain, DomainStatus, Enrollment
from models.email_verification import EmailVerification
from models.identity import Identity, SignupTicket
from models.outbox import OutboxMessage
from models.session import UserSession
from models.team import Invitation, Member, Role, Team
from models.throttle import Throttle
from models.user import User, UserStatus

__all__ = [
    "AuditChain",
    "AuditEvent",
    "Domain",
    "DomainStatus",
    "EmailVerification",
    "Enrollment",
    "Identity",
    "Invitation",
    "Member",
    "OutboxMessage",
    "Role",
    "SignupTicket",
    "Team",
    "Throttle",
    "User",
    "UserSession",
    "UserStatus",
    "metadata",
]
