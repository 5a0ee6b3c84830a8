"""One resolution of a subscription event per distinct (document, variables, viewer, event).

A change to a ticket reaches every subscriber whose subscription and access take it; a
thousand consoles on one token with one document would each resolve the same selection of the
same event the same way. The first of them resolves it; the others, arriving while it runs or
shortly after, take its result (each gets its own copy of the errors list; `data` is shared
and never written to). The viewer in the key is the whole caller (agent, role and groups, or
the customer's session), so no answer is ever shared between callers who might see differently.

Only events that carry their log cursor are shared (every event stream's items do; a wallboard
snapshot does not). A result is shared for SHARE_SECONDS after it was resolved: the live
delivery of one event to its subscribers; a subscriber replaying it later (resuming from a
cursor) resolves it afresh, so nested fields such as the ticket's status are current. At most
MAX_ENTRIES results are kept.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

import orjson
from graphql import ExecutionResult, OperationDefinitionNode

MAX_ENTRIES = 4_096
SHARE_SECONDS = 2.0


class SharedEventResults:
    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, tuple[float, asyncio.Future[ExecutionResult]]] = OrderedDict()

    @staticmethod
    def key(
        operation: OperationDefinitionNode, variables: dict[str, Any], context: object, payload: object
    ) -> Hashable | None:
        """The key under which this event's result may be shared, or None when it may not."""
        cursor = getattr(payload, "cursor", None)
        viewer = getattr(context, "customer", None) or getattr(context, "principal", None)
        # The document by its text (subscribers parse their own copies) and the operation by name.
        document = operation.loc.source.body if operation.loc is not None else None
        if not isinstance(cursor, str) or viewer is None or document is None:
            return None
        try:
            frozen = orjson.dumps(variables, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)
        except TypeError:  # a variable orjson cannot write: resolved on its own
            return None
        name = operation.name.value if operation.name else None
        return (document, name, frozen, viewer, type(payload), cursor)

    def shared(self, key: Hashable, resolve: Callable[[], Any]) -> ExecutionResult | Awaitable[ExecutionResult]:
        """The result for `key`: the one already resolved (at once, with no turn of the event
        loop), the one resolving (awaitable), or resolved now by `resolve`, synchronously when
        the selection needs no I/O."""
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is not None and now - entry[0] <= SHARE_SECONDS:
            found = entry[1]
            if found.done() and not found.cancelled() and found.exception() is None:
                return _copy(found.result())
            return _waited(found)
        result = resolve()
        future: asyncio.Future[ExecutionResult]
        if inspect.isawaitable(result):
            # A task of its own: a subscriber that goes away does not cancel the others' answer.
            future = asyncio.ensure_future(result)
            future.add_done_callback(lambda done: self._forget_failure(key, done))
        else:
            future = asyncio.get_running_loop().create_future()
            future.set_result(result)
        self._entries[key] = (now, future)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        return _copy(result) if future.done() else _waited(future)

    def _forget_failure(self, key: Hashable, done: asyncio.Future[ExecutionResult]) -> None:
        # Every waiter sees the failure; the next subscriber resolves again.
        failed = done.cancelled() or done.exception() is not None
        entry = self._entries.get(key)
        if failed and entry is not None and entry[1] is done:
            del self._entries[key]


def _copy(result: ExecutionResult) -> ExecutionResult:
    # Each subscriber its own errors list: the schema's masking replaces it per subscriber.
    return ExecutionResult(result.data, list(result.errors) if result.errors else None, result.extensions)


async def _waited(future: asyncio.Future[ExecutionResult]) -> ExecutionResult:
    return _copy(await asyncio.shield(future))


EVENT_RESULTS = SharedEventResults()
