"""The event-log consumers alone in a process of their own: the webhook fan-out and deliverer and
the automations, exactly as `helpdesk worker` runs them (app.background), without the worker's
SLA scheduler, mail and sweeps (they would change the benchmark's data set and compete for the
cores). The automations scenario runs one beside `helpdesk serve`, whose own consumers share
the work with it (SKIP LOCKED), as a deployment with one worker would.

    python -m benchmarks.consumers_process DATABASE_URL   (HELPDESK_* settings from the environment)
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.background import webhooks
from app.db.engine import create_engine
from app.services.automation_runner import automations_loop
from app.services.runtime import Runtime
from app.settings import Settings


async def run(database_url: str) -> None:
    engine = create_engine(database_url, pool_size=4, max_overflow=2)
    rt = Runtime(engine=engine, settings=Settings(database_url=database_url))
    try:
        await asyncio.gather(webhooks(rt), automations_loop(rt))
    finally:
        await engine.dispose()


def main() -> None:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run(sys.argv[1]))


if __name__ == "__main__":
    main()
