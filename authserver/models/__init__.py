"""The database models, one module per concern."""

from .api_tokens import APIToken
from .audit import AuditEvent
from .clients import Client
from .keys import SigningKey
from .login_failures import LoginFailure, RegistrationAttempt
from .registration import RegistrationToken, UsedAssertion
from .resources import ProtectedResource
from .scopes import Scope
from .sessions import Session
from .tokens import ACCESS, REFRESH, AuthorizationCode, Consent, Token
from .users import User

__all__ = [
    "ACCESS", "REFRESH", "APIToken", "AuditEvent", "AuthorizationCode", "Client", "Consent", "LoginFailure",
    "ProtectedResource", "RegistrationAttempt", "RegistrationToken", "Scope", "Session", "SigningKey", "Token",
    "UsedAssertion", "User",
]
