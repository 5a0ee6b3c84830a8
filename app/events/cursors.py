"""Opaque, commit-ordered event cursors.

An event's position is (txid, id). Readers only hand out events whose txid is
below the oldest running transaction (see app.db.repositories.events), so no
event can ever appear behind a cursor a reader already passed.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.domain import cursors
from app.domain.errors import InvalidInput


@dataclass(frozen=True, slots=True, order=True)
class EventPosition:
    txid: int
    id: int

    def encode(self) -> str:
        return cursors.encode(cursors.CursorKind.EVENTS, f"{self.txid}:{self.id}")

    @classmethod
    def decode(cls, cursor: str) -> EventPosition:
        body = cursors.decode(cursors.CursorKind.EVENTS, cursor)
        try:
            txid, event_id = body.split(":")
            position = cls(int(txid), int(event_id))
            # Transaction ids and event ids are bigints, never negative.
            if not (0 <= position.txid < 2**63 and 0 <= position.id < 2**63):
                raise ValueError("out of range")
            return position
        except ValueError as exc:
            raise InvalidInput("not a valid event cursor", ["after"]) from exc


START = EventPosition(0, 0)
