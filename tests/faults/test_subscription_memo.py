"""Found by the soak (benchmarks/soak.py): the server's memory grew with every event delivered.

graphql-core 3.3 executes each subscription event with a shallow copy of the subscription's
executor, sharing its memo of collected subfields; the memo is keyed by per-event lists that it
keeps alive, so a long-lived subscription kept a few entries per event forever (about 30 MB a
minute under the soak's load). Our executor gives every event a memo of its own. The stock
executor is run too, so the test is known to be able to fail.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import strawberry
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from resolvers.schema import PerEventMemoExecutor

EVENTS = 200


@strawberry.type
class Customer:
    name: str


@strawberry.type
class Ticket:
    subject: str
    customer: Customer


@strawberry.type
class Query:
    ok: bool = True


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def tickets(self, count: int) -> AsyncGenerator[Ticket, None]:
        for i in range(count):
            yield Ticket(subject=f"#{i}", customer=Customer(name="Li Lei"))


async def largest_memo(base: type[StrawberryGraphQLCoreExecutionContext]) -> int:
    """Runs a subscription of EVENTS events with nested objects; returns the most entries any
    executor's memo held at the end."""
    executors: list[Any] = []

    class Recording(base):  # type: ignore[valid-type, misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            executors.append(self)

        def build_per_event_executor(self, payload: Any) -> Any:
            executor = super().build_per_event_executor(payload)
            executors.append(executor)
            return executor

    schema = strawberry.Schema(query=Query, subscription=Subscription, execution_context_class=Recording)
    stream = await schema.subscribe(
        "subscription($n: Int!) { tickets(count: $n) { subject customer { name } } }", variable_values={"n": EVENTS}
    )
    received = 0
    async for result in stream:  # type: ignore[union-attr]
        assert not result.errors, result.errors
        received += 1
    assert received == EVENTS
    return max(len(executor._relevant_sub_fields) for executor in executors)


async def test_a_long_subscription_does_not_accumulate_per_event_state() -> None:
    assert await largest_memo(PerEventMemoExecutor) <= 2


async def test_the_stock_executor_accumulates_it() -> None:
    assert await largest_memo(StrawberryGraphQLCoreExecutionContext) >= EVENTS
