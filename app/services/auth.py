"""Logging in, authenticating bearer secrets, and partner API tokens."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, func, insert, or_, select, update

from app.auth import tokens
from app.auth.passwords import verify_password
from app.auth.policy import Action, allows, require, require_signed_in
from app.db import tables
from app.db.repositories.rows import columns_for, to_records
from app.domain.enums import AgentRole
from app.domain.errors import Forbidden, InvalidInput, NotFound
from app.domain.principal import CredentialKind, Principal
from app.domain.records import AgentRecord, ApiTokenRecord
from app.domain.validation import Problems, required_text
from app.services.runtime import Runtime

MAX_EMAIL_LENGTH = 254
a, s, at, gm, lf = tables.agents, tables.sessions, tables.api_tokens, tables.group_members, tables.login_failures


@dataclass(frozen=True, slots=True)
class LoginResult:
    token: str
    agent: AgentRecord


_LOGIN_LOCK = 7301  # advisory lock namespace of login attempts


class TooManyAttempts(Forbidden):
    pass


async def login(rt: Runtime, email: str, password: str, client_address: str | None) -> LoginResult:
    """Checks the password and opens a session. Repeated failures for one account or one
    address are slowed down, then refused for the rest of the window, across processes."""
    settings = rt.settings
    now = rt.clock.now()
    account = email.strip().lower()
    # An address longer than any email can be (RFC 5321: 254) is no account's: it is counted
    # against the client address only (as a subject it would not even fit the index).
    subjects = ([f"email:{account}"] if len(account) <= MAX_EMAIL_LENGTH else []) + (
        [f"ip:{client_address}"] if client_address else []
    )
    window_start = now - timedelta(minutes=settings.login_window_minutes)
    async with rt.engine.begin() as conn:
        # Count and record this attempt atomically, before the password is checked: with N
        # attempts in flight at once, exactly `login_lockout_after` of them get a password
        # check, whatever the interleaving. The locks serialise the attempts of one account
        # (and one address), in a fixed order so two subjects never deadlock.
        for subject in sorted(subjects):
            await conn.execute(select(func.pg_advisory_xact_lock(_LOGIN_LOCK, func.hashtext(subject))))
        failures = (
            await conn.execute(
                select(func.count(), lf.c.subject)
                .where(lf.c.subject.in_(subjects), lf.c.failed_at >= window_start)
                .group_by(lf.c.subject)
            )
        ).all()
        worst = max((n for n, _ in failures), default=0)
        if worst >= settings.login_lockout_after:
            raise TooManyAttempts(
                f"too many failed logins; try again in {settings.login_window_minutes} minutes", ["email"]
            )
        # Counted as a failure until the password proves right.
        attempt_ids = (
            (
                await conn.execute(
                    insert(lf).returning(lf.c.id), [{"subject": subject, "failed_at": now} for subject in subjects]
                )
            )
            .scalars()
            .all()
            if subjects
            else []
        )
        row = (
            await conn.execute(
                select(*columns_for(a, AgentRecord), a.c.password_hash).where(
                    func.lower(a.c.email) == email.strip().lower(), a.c.deactivated_at.is_(None)
                )
            )
        ).first()
    if worst >= settings.login_slowdown_after:
        # Each failure past the threshold doubles the wait, up to 8 seconds.
        await asyncio.sleep(min(8.0, 0.25 * 2 ** (worst - settings.login_slowdown_after)))
    ok = await verify_password(row.password_hash if row else None, password)
    if not ok or row is None:
        raise InvalidInput("wrong email or password", [])
    agent = AgentRecord(*row[:-1])
    secret = tokens.new_secret(tokens.SESSION_PREFIX)
    async with rt.engine.begin() as conn:
        await conn.execute(
            insert(s).values(
                agent_id=agent.id,
                token_hash=tokens.digest(secret),
                created_at=now,
                expires_at=now + settings.session_ttl,
            )
        )
        # This attempt was no failure; the account's earlier failures are forgiven. Attempts
        # counted after this one stay counted: a right password does not open a window for
        # guesses that were already in flight.
        if attempt_ids:
            forgiven: ColumnElement[bool] = lf.c.id.in_(attempt_ids)
            if subjects[0].startswith("email:"):
                forgiven = or_(forgiven, and_(lf.c.subject == subjects[0], lf.c.id < min(attempt_ids)))
            await conn.execute(delete(lf).where(forgiven))
        # Old expired sessions of this agent are of no use to anyone.
        await conn.execute(delete(s).where(s.c.agent_id == agent.id, s.c.expires_at < now))
    return LoginResult(secret, agent)


async def authenticate(rt: Runtime, secret: str) -> Principal | None:
    """The principal behind a bearer secret, or None when it is unknown, expired or revoked."""
    now = rt.clock.now()
    digest = tokens.digest(secret)
    if secret.startswith(tokens.SESSION_PREFIX):
        table, kind = s, CredentialKind.SESSION
    elif secret.startswith(tokens.API_TOKEN_PREFIX):
        table, kind = at, CredentialKind.API_TOKEN
    else:
        return None
    groups = select(func.coalesce(func.array_agg(gm.c.group_id), [])).where(gm.c.agent_id == a.c.id).scalar_subquery()
    query = (
        select(table.c.id, a.c.id, a.c.role, groups, table.c.expires_at)
        .join(a, a.c.id == table.c.agent_id)
        .where(
            table.c.token_hash == digest,
            table.c.revoked_at.is_(None),
            or_(table.c.expires_at.is_(None), table.c.expires_at > now),
            a.c.deactivated_at.is_(None),
        )
    )
    async with rt.reader.connect() as conn:  # every request: no BEGIN/ROLLBACK around one read
        row = (await conn.execute(query)).first()
        if row is None:
            return None
        if kind is CredentialKind.API_TOKEN:
            # Kept to the minute: one write per token per minute, not one per request.
            await conn.execute(
                update(at)
                .where(
                    at.c.id == row[0], or_(at.c.last_used_at.is_(None), at.c.last_used_at < now - timedelta(minutes=1))
                )
                .values(last_used_at=now)
            )
            await conn.commit()
    return Principal(
        agent_id=row[1],
        role=AgentRole(row[2]),
        group_ids=frozenset(row[3] or ()),
        credential=kind,
        credential_id=row[0],
        expires_at=row[4],
    )


@dataclass(frozen=True, slots=True)
class CreatedApiToken:
    secret: str
    token: ApiTokenRecord


async def create_api_token(
    rt: Runtime, principal: Principal, name: str, agent_id: int | None, expires_at: datetime | None
) -> CreatedApiToken:
    """A partner credential acting as `agent_id` (admins) or the caller. The secret is returned
    here only; the database keeps its digest."""
    require(principal, Action.MANAGE_OWN_API_TOKENS)
    require_signed_in(principal, Action.MANAGE_OWN_API_TOKENS)
    owner = principal.agent_id if agent_id is None else agent_id
    if owner != principal.agent_id:
        require(principal, Action.MANAGE_ANY_API_TOKEN)
    problems = Problems()
    clean_name = required_text(problems, name, ["name"], 200)
    now = rt.clock.now()
    if expires_at is not None and expires_at.tzinfo is None:
        # The API speaks UTC: a time given without a zone is a UTC time, not a crash.
        expires_at = expires_at.replace(tzinfo=UTC)
    if expires_at is not None and expires_at <= now:
        problems.add("must be in the future", ["expiresAt"])
    problems.raise_if_any()
    secret = tokens.new_secret(tokens.API_TOKEN_PREFIX)
    async with rt.transaction() as tx:
        exists = (await tx.conn.execute(select(a.c.id).where(a.c.id == owner, a.c.deactivated_at.is_(None)))).first()
        if exists is None:
            raise NotFound("no such agent", ["agentId"])
        row = (
            await tx.conn.execute(
                insert(at)
                .values(
                    name=clean_name,
                    agent_id=owner,
                    token_hash=tokens.digest(secret),
                    created_by_agent_id=principal.agent_id,
                    created_at=now,
                    expires_at=expires_at,
                )
                .returning(*columns_for(at, ApiTokenRecord))
            )
        ).one()
    return CreatedApiToken(secret, ApiTokenRecord(*row))


async def revoke_api_token(rt: Runtime, principal: Principal, token_id: int) -> int:
    require(principal, Action.MANAGE_OWN_API_TOKENS)
    async with rt.transaction() as tx:
        row = (await tx.conn.execute(select(at.c.agent_id).where(at.c.id == token_id).with_for_update())).first()
        if row is None or (row.agent_id != principal.agent_id and not allows(principal, Action.MANAGE_ANY_API_TOKEN)):
            # Someone else's token looks exactly like a missing one.
            raise NotFound("no such API token", ["id"])
        await tx.conn.execute(
            update(at).where(at.c.id == token_id, at.c.revoked_at.is_(None)).values(revoked_at=rt.clock.now())
        )
    await rt.credentials_changed()
    return token_id


async def list_api_tokens(rt: Runtime, principal: Principal) -> list[ApiTokenRecord]:
    """The caller's own tokens; admins see every token."""
    query = select(*columns_for(at, ApiTokenRecord)).order_by(at.c.created_at.desc(), at.c.id.desc())
    if not allows(principal, Action.MANAGE_ANY_API_TOKEN):
        query = query.where(at.c.agent_id == principal.agent_id)
    async with rt.engine.connect() as conn:
        return to_records(ApiTokenRecord, await conn.execute(query))


async def api_tokens_by_ids(rt: Runtime, principal: Principal, ids: list[int]) -> dict[int, ApiTokenRecord]:
    query = select(*columns_for(at, ApiTokenRecord)).where(at.c.id.in_(ids))
    if not allows(principal, Action.MANAGE_ANY_API_TOKEN):
        query = query.where(at.c.agent_id == principal.agent_id)
    async with rt.engine.connect() as conn:
        return {r.id: r for r in to_records(ApiTokenRecord, await conn.execute(query))}
