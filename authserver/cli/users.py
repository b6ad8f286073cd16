"""``authserver users``: people who log in and own API tokens."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..audit import Actor, EventType, record
from ..extensions import db
from ..models import User
from ..models.sessions import DISABLED, PASSWORD_CHANGED
from ..models.types import utcnow
from ..models.users import USERNAME_KEY_LENGTH, user_named, username_key
from ..oidc.profile import InvalidProfile, ProfileChange, apply_profile
from ..people.passwords import MIN_LENGTH, hash_password
from ..people.sessions import end_sessions
from .output import emit, fail, fail_invalid, found, json_option

group = AppGroup("users", help="Manage users.")


def user_record(user: User) -> dict[str, object]:
    return {
        "id": user.id,
        "username": user.username,
        "subject": user.subject,
        "active": user.is_active,
        "name": user.name,
        "email": user.email,
        "email_verified": user.email_verified,
        "created_at": user.created_at,
        "updated_at": user.updated_at,
    }


# The flag that gives each profile field, to name it in a refusal.
PROFILE_FLAGS = {"email": "--email", "email_verified": "--email-verified", "name": "--name"}


def _apply(user: User, change: ProfileChange) -> None:
    try:
        apply_profile(user, change)
    except InvalidProfile as exc:
        db.session.rollback()
        fail_invalid(exc, PROFILE_FLAGS)


def find_user(name: str) -> User:
    return found(db.session.scalar(user_named(name)), f"no user named {name!r}")


def _long_enough(password: str) -> str:
    """Checked before the confirmation prompt, so a short password is not typed twice."""
    if len(password) < MIN_LENGTH:
        raise click.BadParameter(f"a password needs at least {MIN_LENGTH} characters")
    return password


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        fail("no terminal to ask for the password on: give it on standard input with --password-stdin")
    password: str = click.prompt("Password", hide_input=True, confirmation_prompt=True, value_proc=_long_enough)
    return password


def _hashed(password: str) -> str:
    try:
        return hash_password(password)
    except ValueError as exc:
        fail(str(exc))


@group.command("create")
@click.argument("name")
@click.option("--email", help="Email address (the email claim); unverified until `users update --email-verified`.")
@click.option("--name", "full_name", help='Full name (the name claim), e.g. "Alice Example".')
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
@json_option
def create(name: str, email: str | None, full_name: str | None, password_stdin: bool, as_json: bool) -> None:
    """Add a user."""
    if not name.strip() or len(name) > 150 or len(username_key(name)) > USERNAME_KEY_LENGTH:
        fail("a username needs 1 to 150 characters")
    same = db.session.scalar(user_named(name))
    if same is not None:  # usernames are one account whatever their case or Unicode form
        fail(f"a user named {same.username!r} already exists, and {name!r} would be the same account")
    user = User(username=name, password_hash="")
    _apply(user, ProfileChange(email=email, name=full_name))  # refused before the password is asked for
    user.password_hash = _hashed(_read_password(password_stdin))
    user.created_at = user.updated_at = utcnow()  # created with this profile
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        fail(f"a user named {name!r} already exists")
    emit(user_record(user), as_json)


@group.command("list")
@json_option
def list_users(as_json: bool) -> None:
    """List users."""
    emit([user_record(u) for u in db.session.scalars(select(User).order_by(User.id))], as_json)


@group.command("update")
@click.argument("name")
@click.option("--email", help='New email address ("" removes it); a new address is unverified unless '
                               "--email-verified is given too.")
@click.option("--email-verified/--no-email-verified", default=None, help="Whether the address was verified.")
@click.option("--name", "full_name", help='Full name ("" removes it).')
@json_option
def update(name: str, email: str | None, email_verified: bool | None, full_name: str | None, as_json: bool) -> None:
    """Change a user's name or email.

    The profile claims UserInfo answers with. Options not given stay as they are.
    """
    user = find_user(name)
    _apply(user, ProfileChange(email=email, email_verified=email_verified, name=full_name))
    db.session.commit()
    emit(user_record(user), as_json)


@group.command("disable")
@click.argument("name")
@json_option
def disable(name: str, as_json: bool) -> None:
    """Stop a user from logging in.

    Every session they have ends, and their tokens stop working at introspection.
    """
    from ..oauth.revocation import revoke_user_tokens

    user = find_user(name)
    user.is_active = False
    record(EventType.USER_DISABLED, Actor.CLI, user=user.username)
    db.session.commit()
    end_sessions(user.id, DISABLED)
    revoke_user_tokens(user.id)
    emit(user_record(user), as_json)


@group.command("enable")
@click.argument("name")
@json_option
def enable(name: str, as_json: bool) -> None:
    """Let a disabled user log in again.

    What disabling ended (sessions, tokens) stays ended.
    """
    user = find_user(name)
    user.is_active = True
    db.session.commit()
    emit(user_record(user), as_json)


@group.command("set-password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
@json_option
def set_password(name: str, password_stdin: bool, as_json: bool) -> None:
    """Replace a user's password.

    Every session they have ends.
    """
    user = find_user(name)
    user.password_hash = _hashed(_read_password(password_stdin))
    db.session.commit()
    end_sessions(user.id, PASSWORD_CHANGED)
    emit(user_record(user), as_json)
