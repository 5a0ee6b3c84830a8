"""Demo data worth looking at: the records in `data`, seeded through the services by `seed`.

`helpdesk seed-demo` and `helpdesk serve --demo` call `seed_demo`; tests import the data too.
"""

from app.demo.data import (
    ARTICLES,
    AUTOMATIONS,
    CALENDARS,
    DEMO_ADMIN_EMAIL,
    DEMO_ADMIN_PASSWORD,
    MACROS,
    ROUTING_RULES,
    SLA_POLICIES,
    TICKETS,
)
from app.demo.seed import DemoResult, seed_demo

__all__ = [
    "ARTICLES",
    "AUTOMATIONS",
    "CALENDARS",
    "DEMO_ADMIN_EMAIL",
    "DEMO_ADMIN_PASSWORD",
    "MACROS",
    "ROUTING_RULES",
    "SLA_POLICIES",
    "TICKETS",
    "DemoResult",
    "seed_demo",
]
