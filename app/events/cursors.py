"""Opaque, commit-ordered event cursors.

An event's position is (txid, id). Readers only hand out events whose txid is
below the oldest running transaction (see app.db.repositories.events), so no
event can ever appear behind a cursor a reader already passed.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from app.domain.errors import InvalidInput


@dataclass(frozen=True, slots=True, order=True)
class EventPosition:
    txid: int
    id: int

    def encode(self) -> str:
        return base64.urlsafe_b64encode(f"ev1:{self.txid}:{self.id}".encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, cursor: str) -> EventPosition:
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
            tag, txid, event_id = raw.split(":")
            if tag != "ev1":
                raise ValueError(tag)
            position = cls(int(txid), int(event_id))
            # Transaction ids and event ids are bigints, never negative.
            if not (0 <= position.txid < 2**63 and 0 <= position.id < 2**63):
                raise ValueError("out of range")
            return position
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidInput("not a valid event cursor", ["after"]) from exc


START = EventPosition(0, 0)
