"""What every answer of the server must satisfy, whatever it was sent.

- never a 5xx;
- a GraphQL answer is JSON with `data` and/or `errors`;
- no INTERNAL_SERVER_ERROR (a masked unexpected exception is a defect too);
- an error raised while executing (it has a `path`) carries one of our codes; an error without
  a path is a parse, validation or limit message;
- no error or userErrors message shows exception text: tracebacks, driver or ORM names,
  PostgreSQL messages, Python reprs (unless the request itself contained that text).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx

from app.domain.enums import ErrorCode

OUR_CODES = {c.value for c in ErrorCode} | {
    "BAD_USER_INPUT",
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "NOT_FOUND",
    "UNAVAILABLE",
    "TOO_MANY_SUBSCRIPTIONS",
    "SUBSCRIBER_TOO_SLOW",
}

LEAKS = re.compile(
    r"Traceback|File \"/|asyncpg|sqlalchemy|psycopg|SQLSTATE|\(Background on this error"
    r"|violates (?:not-null|foreign key|unique|check) constraint|invalid input syntax for"
    r"|out of range for type|value too long for type|untranslatable character|invalid byte sequence"
    r"|unsupported Unicode escape|\bat 0x[0-9a-fA-F]{6,}|<class '|<[a-z_.]+ object"
    r"|\b[A-Z][A-Za-z]*(?:Error|Exception|Warning)\(|NoneType|has no attribute|not subscriptable"
    r"|unexpected keyword argument|positional argument|KeyError|IndexError|AttributeError|TypeError",
    re.IGNORECASE,
)


def _messages(payload: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(where, message) for every userErrors entry anywhere in the data."""
    if isinstance(payload, dict):
        for key, value in payload.items():
            if key == "userErrors" and isinstance(value, list):
                for entry in value:
                    if isinstance(entry, dict) and isinstance(entry.get("message"), str):
                        yield f"{path}.userErrors", entry["message"]
            else:
                yield from _messages(value, f"{path}.{key}")
    elif isinstance(payload, list):
        for item in payload:
            yield from _messages(item, path)


def _leak(message: str, request_text: str) -> str | None:
    for match in LEAKS.finditer(message):
        if match.group(0).lower() not in request_text.lower():
            return match.group(0)
    return None


def problems(response: httpx.Response, request_text: str, *, graphql_answer: bool = True) -> list[str]:
    """Every way this answer breaks the properties; empty when it is fine."""
    found: list[str] = []
    if response.status_code >= 500:
        return [f"HTTP {response.status_code}: {response.text[:500]}"]
    body = response.text
    if not graphql_answer:
        # A refusal before GraphQL (size limit, method, content type): still no exception text.
        leak = _leak(body, request_text)
        return [f"exception text in HTTP {response.status_code} body ({leak}): {body[:500]}"] if leak else []
    try:
        result = json.loads(body)
    except ValueError:
        return [f"not JSON (HTTP {response.status_code}): {body[:500]}"]
    if not isinstance(result, dict) or not ({"data", "errors"} & result.keys()):
        return [f"not a GraphQL response: {body[:500]}"]
    for error in result.get("errors") or []:
        message = str(error.get("message"))
        code = (error.get("extensions") or {}).get("code")
        if code == "INTERNAL_SERVER_ERROR":
            found.append(f"INTERNAL_SERVER_ERROR at {error.get('path')}")
        elif error.get("path") and code not in OUR_CODES:
            found.append(f"execution error without one of our codes at {error['path']}: {message[:300]}")
        leak = _leak(message, request_text)
        if leak:
            found.append(f"exception text in error ({leak}): {message[:300]}")
    for where, message in _messages(result.get("data")):
        leak = _leak(message, request_text)
        if leak:
            found.append(f"exception text in {where} ({leak}): {message[:300]}")
    return found


def outcomes(result: dict[str, Any]) -> list[str]:
    """Labels for the statistics: each error's code (or "validation"), each userErrors code, "data"."""
    labels = []
    for error in result.get("errors") or []:
        labels.append("error:" + str((error.get("extensions") or {}).get("code") or "validation"))
    labels.extend(f"userError:{code}" for code in _codes(result.get("data")))
    if result.get("data") and not result.get("errors"):
        labels.append("data")
    return labels


def _codes(payload: Any) -> Iterator[str]:
    if isinstance(payload, dict):
        for key, value in payload.items():
            if key == "userErrors" and isinstance(value, list):
                yield from (str(e.get("code")) for e in value if isinstance(e, dict))
            else:
                yield from _codes(value)
    elif isinstance(payload, list):
        for item in payload:
            yield from _codes(item)
