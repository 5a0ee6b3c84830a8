"""Broken HTTP requests to /graphql: bodies that are not JSON or not a GraphQL request, wrong
content types, methods and encodings, multipart forms that lie, oversized and deeply nested
bodies. Each is (method, headers, body, query string)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from hypothesis import strategies as st

from tests.fuzz import values
from tests.fuzz.variables import ANY_JSON

QUERY = "query { me { id name } tickets(first: 2) { totalCount } }"
MUTATION = "mutation { setPresence(presence: AWAY) { agent { presence } } }"


@dataclass(frozen=True)
class RawRequest:
    method: str
    content_type: str | None
    body: bytes
    params: tuple[tuple[str, str], ...] = ()

    def describe(self) -> str:
        return f"{self.method} ?{self.params!r} Content-Type: {self.content_type!r} body: {self.body[:2000]!r}"


CONTENT_TYPES = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "application/json; charset=latin-1",
        "application/graphql",
        "application/graphql-response+json",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "multipart/form-data; boundary=xyz",
        "multipart/mixed; boundary=xyz",
        "application/xml",
        "*/*",
        "",
        "application/json; boundary=\x7f",
    ]
)


def _json(value: object) -> bytes:
    return json.dumps(value).encode()


def _nested(depth: int) -> bytes:
    return ("[" * depth + "]" * depth).encode() if depth % 2 else ('{"a":' * depth + "1" + "}" * depth).encode()


GRAPHQL_BODIES = st.one_of(
    # Well-formed JSON, but not a GraphQL request.
    ANY_JSON.map(_json),
    st.fixed_dictionaries(
        {},
        optional={
            "query": st.one_of(
                values.TEXT, ANY_JSON, st.sampled_from([QUERY, MUTATION, "{", "query {", "subscription { x }"])
            ),
            "variables": ANY_JSON,
            "operationName": ANY_JSON,
            "extensions": ANY_JSON,
        },
    ).map(_json),
    # Batches, which we do not serve.
    st.lists(st.just({"query": QUERY}), min_size=1, max_size=3).map(_json),
    # Not JSON at all, or broken JSON.
    st.binary(max_size=64),
    st.sampled_from(
        [
            b"",
            b"{",
            b'{"query": "{ me { id } }"',
            b'{"query": "{ me { id } }"}}',
            b'{"query": "\\ud800"}',
            b'{"query": "\\u0000"}',
            b'{"query": 1e999}',
            b'{"query": "{ __typename }", "variables": {"a": 1e999}}',
            b'{"query": "{ __typename }", "variables": {"a": 123456789012345678901234567890}}',
            b'{"query": "{ __typename }", "query": "{ me { id } }"}',
            b"\xff\xfe{\x00}",
            b'\xef\xbb\xbf{"query": "{ __typename }"}',
            b"null",
            b"NaN",
            '{"query": "{ __typename }", "variables": {"x": "é"}}'.encode("latin-1"),
        ]
    ),
    st.sampled_from([100, 1_000, 100_000]).map(_nested),
)

REQUESTS = st.one_of(
    st.builds(RawRequest, st.just("POST"), CONTENT_TYPES, GRAPHQL_BODIES),
    st.builds(
        RawRequest,
        st.sampled_from(["GET", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS"]),
        st.one_of(st.none(), CONTENT_TYPES),
        st.one_of(st.just(b""), GRAPHQL_BODIES),
        st.lists(
            st.tuples(
                st.sampled_from(["query", "variables", "operationName", "extensions", "x"]),
                # (URLs stay short: clients refuse long ones before they are sent)
                st.one_of(
                    st.sampled_from(values.WORDS),
                    st.text(values.NO_NUL, max_size=30),
                    st.sampled_from([QUERY, MUTATION, "{", "{}", "[]", "null", "5", '"x"', "[1]"]),
                ),
            ),
            max_size=3,
        ).map(tuple),
    ),
    # Multipart forms (file uploads) whose parts lie about each other.
    st.builds(
        lambda ops, mapping, file: RawRequest(
            "POST",
            "multipart/form-data; boundary=B",
            (
                b'--B\r\nContent-Disposition: form-data; name="operations"\r\n\r\n' + ops + b"\r\n"
                b'--B\r\nContent-Disposition: form-data; name="map"\r\n\r\n' + mapping + b"\r\n"
                b'--B\r\nContent-Disposition: form-data; name="0"; filename="a.txt"\r\n'
                b"Content-Type: text/plain\r\n\r\n" + file + b"\r\n--B--\r\n"
            ),
        ),
        st.one_of(
            st.just(
                _json(
                    {
                        "query": 'mutation($f: [Upload!]) { addComment(ticketId: "x", body: "b", attachments: $f)'
                        " { userErrors { message } } }",
                        "variables": {"f": [None]},
                    }
                )
            ),
            GRAPHQL_BODIES,
        ),
        st.one_of(
            st.sampled_from([b'{"0": ["variables.f.0"]}', b'{"0": ["variables.nope.9"]}', b'{"0": "x"}', b"[]"]),
            GRAPHQL_BODIES,
        ),
        st.binary(max_size=32),
    ),
)
