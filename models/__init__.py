"""SQLModel tables. Importing this package registers every table on the shared metadata."""

from models.app import App, Installation
from models.audit import AuditChain, AuditEvent
from models.base import metadata
from models.domain import Domain, DomainStatus, Enrollment
from models.email_change import EmailChangeRequest, EmailChangeStatus
from models.email_verification import EmailVerification
from models.identity import Identity, SignupTicket
from models.notice_batch import NoticeAudience, NoticeBatch, NoticeBatchAccount
from models.notification import Notification
from models.outbox import OutboxMessage
from models.session import UserSession
from models.takeover import Takeover, TakeoverAccount, TakeoverOutcome, TakeoverStatus
from models.team import Invitation, Member, Role, Team
from models.throttle import Throttle
from models.token import ApiToken, TokenKind
from models.user import User, UserStatus

__all__ = [
    "ApiToken",
    "App",
    "AuditChain",
    "AuditEvent",
    "Domain",
    "DomainStatus",
    "EmailChangeRequest",
    "EmailChangeStatus",
    "EmailVerification",
    "Enrollment",
    "Identity",
    "Installation",
    "Invitation",
    "Member",
    "NoticeAudience",
    "NoticeBatch",
    "NoticeBatchAccount",
    "Notification",
    "OutboxMessage",
    "Role",
    "SignupTicket",
    "Takeover",
    "TakeoverAccount",
    "TakeoverOutcome",
    "TakeoverStatus",
    "Team",
    "Throttle",
    "TokenKind",
    "User",
    "UserSession",
    "UserStatus",
    "metadata",
]
