"""GraphQL over HTTP: which media type a client gets, and which status a request error gets.

The spec (graphql.github.io/graphql-over-http) defines two response media types. Legacy
`application/json` answers every well-formed request with 200, errors or not. The newer
`application/graphql-response+json` answers a request error (the document does not parse or
validate, a variable does not coerce: nothing was executed) with 400 and no `data` entry, so a
client, proxy or monitor can tell from the status alone. A client that names it in Accept gets it.
"""

from __future__ import annotations

from cross_web import HTTPException
from strawberry.types import ExecutionResult

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
APPLICATION_JSON = "application/json"


def _media_ranges(accept: str) -> list[tuple[str, float]]:
    ranges = []
    for part in accept.split(","):
        media_type, *params = (item.strip() for item in part.split(";"))
        if not media_type:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        ranges.append((media_type.lower(), q))
    return ranges


def negotiate_media_type(accept: str | None) -> str:
    """`application/graphql-response+json` when the client names it at least as highly as
    `application/json`; otherwise (no Accept, `*/*`, only `application/json`, nothing we serve)
    the legacy `application/json`, which every GraphQL client reads."""
    if not accept:
        return APPLICATION_JSON
    ranges = _media_ranges(accept)
    preferred = max((q for media_type, q in ranges if media_type == GRAPHQL_RESPONSE_JSON), default=0.0)
    legacy = 0.0
    for candidate in (APPLICATION_JSON, "application/*", "*/*"):
        matches = [q for media_type, q in ranges if media_type == candidate]
        if matches:
            legacy = max(matches)
            break  # the most specific range decides (RFC 9110, 12.5.1)
    return GRAPHQL_RESPONSE_JSON if preferred > 0 and preferred >= legacy else APPLICATION_JSON


def request_error_status(result: ExecutionResult) -> int | None:
    """The status of a request error (no `data`: execution never started), else None.

    Parse, validation and variable-coercion errors carry no path; a field error always does,
    and its response has `data` (possibly null after null propagation) and a 200."""
    if result.data is not None or not result.errors or any(error.path for error in result.errors):
        return None
    internal = any((error.extensions or {}).get("code") == "INTERNAL_SERVER_ERROR" for error in result.errors)
    return 500 if internal else 400


def refuse_unsupported_charset(content_type: str | None) -> None:
    """Request bodies are UTF-8 (the spec's only required encoding, and JSON's). A body that
    declares another charset would be misread, so it is refused with 415, not guessed at."""
    for param in (content_type or "").split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8", "us-ascii"):
            raise HTTPException(415, f"Unsupported charset {value.strip()!r}: request bodies must be UTF-8")
