"""Customers sign in by a link mailed to them: the link, the customer session it opens, and their
revocation.

A link is `HELPDESK_PUBLIC_URL/examples/portal/sign-in.html?token=<linkToken>`: valid
LINK_LIFETIME, used once, only its sha256 stored. Using it opens a customer session (bearer
prefix `hdc_`, HELPDESK_CUSTOMER_SESSION_TTL_HOURS), also stored as a digest. Asking for a link
answers the same for every well-formed address, known or not, and in about the same time;
asking too often (per address and per client address, across processes) is refused.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from app.auth import tokens
from app.db import tables
from app.db.rate_windows import take_within_window
from app.db.repositories import people
from app.domain import validation as v
from app.domain.email.addresses import normalize_address
from app.domain.email.delivery import suppression_reason
from app.domain.email.outbound import new_message_id
from app.domain.enums import EmailDeliveryKind, EmailDeliveryStatus
from app.domain.errors import Forbidden, InvalidInput
from app.domain.principal import CustomerPrincipal
from app.domain.records import CustomerRecord
from app.services.runtime import Runtime
from app.settings import Settings

links, sessions, requests = (
    tables.customer_sign_in_links,
    tables.customer_sessions,
    tables.customer_sign_in_requests,
)
LINK_LIFETIME = timedelta(minutes=15)
SIGN_IN_PATH = "/examples/portal/sign-in.html"
# requestCustomerSignIn answers no sooner than this, known address or not: the mail's extra
# writes are hidden inside it, so the answer's timing tells nobody who is a customer.
ANSWER_FLOOR_SECONDS = 0.15
# Longer than any token we mint: anything longer is refused before it is hashed.
MAX_TOKEN_LENGTH = 100
BAD_LINK = "this sign-in link is not valid: it may be mistyped, expired or already used; ask for a new one"


class TooManySignInRequests(Forbidden):
    pass


@dataclass(frozen=True, slots=True)
class SignedIn:
    token: str
    customer: CustomerRecord


def sign_in_url(settings: Settings, link_token: str) -> str:
    return f"{settings.public_url.rstrip('/')}{SIGN_IN_PATH}?token={quote(link_token)}"


async def mint_sign_in_link(conn: AsyncConnection, settings: Settings, customer_id: int, now: datetime) -> str:
    """A new one-time sign-in link for the customer, written in the caller's transaction (it is
    good only if that commits): the full URL, valid LINK_LIFETIME from `now`, usable once."""
    secret = tokens.new_secret(tokens.SIGN_IN_LINK_PREFIX)
    await conn.execute(
        insert(links).values(
            customer_id=customer_id, token_hash=tokens.digest(secret), created_at=now, expires_at=now + LINK_LIFETIME
        )
    )
    return sign_in_url(settings, secret)


async def request_sign_in(rt: Runtime, email: str, client_address: str | None) -> None:
    """Mails a sign-in link when `email` is a customer's (merged-away addresses find the customer
    they were merged into). Returns the same for every well-formed address, known or not, in
    about the same time; a malformed one is INVALID_INPUT, and too many requests for the address
    or from the client within the window are FORBIDDEN (known or not alike)."""
    started = time.monotonic()
    problems = v.Problems()
    address = v.email(problems, email, ["email"])
    if address is None and not problems.items:
        problems.add("is required", ["email"])
    problems.raise_if_any()
    assert address is not None
    try:
        await _request(rt, address, client_address)
    finally:
        # Refused or accepted, known or not: the caller waits the same floor.
        await asyncio.sleep(max(0.0, ANSWER_FLOOR_SECONDS - (time.monotonic() - started)))


async def _request(rt: Runtime, address: str, client_address: str | None) -> None:
    settings = rt.settings
    now = rt.clock.now()
    window = timedelta(minutes=settings.customer_sign_in_window_minutes)
    limits = {f"email:{address}": settings.customer_sign_in_per_address}
    if client_address:
        limits[f"ip:{client_address}"] = settings.customer_sign_in_per_client
    async with rt.transaction() as tx:
        conn = tx.conn
        if not await take_within_window(conn, requests, requests.c.requested_at, limits, now - window, now):
            minutes = settings.customer_sign_in_window_minutes
            raise TooManySignInRequests(f"too many sign-in requests; try again in {minutes} minutes", ["email"])
        customer = await people.customer_by_contact(conn, address, None)
        if customer is None or not _deliverable(customer, address):
            return
        url = await mint_sign_in_link(conn, settings, customer.id, now)
        await _queue_link_mail(conn, settings, address, url, now)


def _deliverable(customer: CustomerRecord, address: str) -> bool:
    """Mail to a bounced address goes nowhere (an alias of a merge has no bounce record)."""
    primary = customer.email is not None and normalize_address(customer.email) == address
    return suppression_reason(address, customer.email_bounced_at if primary else None) is None


async def _queue_link_mail(conn: AsyncConnection, settings: Settings, address: str, url: str, now: datetime) -> None:
    body = (
        "您好！请点击以下链接登录客户中心（15 分钟内有效，仅可使用一次）：\n"
        f"{url}\n\n"
        "Hello! Sign in to the customer portal with this link (valid 15 minutes, usable once):\n"
        f"{url}\n\n"
        "如果这不是您本人的操作，请忽略此邮件。 If you did not ask for it, ignore this mail.\n"
    )
    await conn.execute(
        insert(tables.email_deliveries).values(
            kind=EmailDeliveryKind.SYSTEM.value,
            ticket_id=None,
            comment_id=None,
            mailbox_id=None,
            to_addresses=[address],
            subject="登录链接 / Your sign-in link",
            body_text=body,
            message_id=new_message_id(settings.mail_from),
            status=EmailDeliveryStatus.QUEUED.value,
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )
    )


async def sign_in(rt: Runtime, link_token: str) -> SignedIn:
    """Opens a customer session with a link's token: once per link, within its lifetime, and only
    while it is not revoked. Any other token is INVALID_INPUT and nothing is written. Of many
    uses of one link at once, exactly one opens a session."""
    if not link_token.startswith(tokens.SIGN_IN_LINK_PREFIX) or len(link_token) > MAX_TOKEN_LENGTH:
        raise InvalidInput(BAD_LINK, ["linkToken"])
    now = rt.clock.now()
    secret = tokens.new_secret(tokens.CUSTOMER_SESSION_PREFIX)
    async with rt.transaction() as tx:
        # The row lock makes the use single: a second use waits, then sees used_at set.
        customer_id = await tx.conn.scalar(
            update(links)
            .where(
                links.c.token_hash == tokens.digest(link_token),
                links.c.used_at.is_(None),
                links.c.revoked_at.is_(None),
                links.c.expires_at > now,
            )
            .values(used_at=now)
            .returning(links.c.customer_id)
        )
        if customer_id is None:
            raise InvalidInput(BAD_LINK, ["linkToken"])
        await tx.conn.execute(
            insert(sessions).values(
                customer_id=customer_id,
                token_hash=tokens.digest(secret),
                created_at=now,
                expires_at=now + rt.settings.customer_session_ttl,
            )
        )
        customer = (await people.customers_by_ids(tx.conn, [customer_id]))[customer_id]
    return SignedIn(secret, customer)


async def authenticate_customer(rt: Runtime, secret: str) -> CustomerPrincipal | None:
    """The customer behind a customer-session secret, or None when it is unknown, expired or revoked."""
    if not secret.startswith(tokens.CUSTOMER_SESSION_PREFIX) or len(secret) > MAX_TOKEN_LENGTH:
        return None
    query = select(sessions.c.id, sessions.c.customer_id, sessions.c.expires_at).where(
        sessions.c.token_hash == tokens.digest(secret),
        sessions.c.revoked_at.is_(None),
        sessions.c.expires_at > rt.clock.now(),
    )
    async with rt.reader.connect() as conn:
        row = (await conn.execute(query)).first()
    return CustomerPrincipal(row.customer_id, row.id, row.expires_at) if row else None


async def revoke_customer_credentials(conn: AsyncConnection, customer_id: int, now: datetime) -> None:
    """Ends every session of the customer and voids their unused sign-in links, in the caller's
    transaction (erasure calls it). Open websockets close within HELPDESK_CREDENTIAL_RECHECK_SECONDS."""
    await conn.execute(
        update(sessions)
        .where(sessions.c.customer_id == customer_id, sessions.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    await conn.execute(
        update(links)
        .where(links.c.customer_id == customer_id, links.c.used_at.is_(None), links.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
