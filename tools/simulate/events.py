"""Prefect's event feed as supervisors' automations see it, compared with the ledger's outbox.

Read over the server's REST API (POST /api/events/filter, then the next-page links), a window at a
time, so a year's feed is read once. Exactly once means: every item_event row that the flows
marked emitted is in the feed under its own id, the feed has no duban.item event the ledger does
not know, and no two feed events describe the same change (event, occurrence, deadline) under
different ids. Events are sent by Prefect's events worker in the background: rows marked in the
last LAG seconds are judged the next day.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

import httpx
from sqlalchemy import or_, select

from duban.ledger.models import ItemEvent

LAG = timedelta(seconds=20)
OVERLAP = timedelta(minutes=2)
PREFIX = "duban.item."
# several of these per occurrence are legitimate (each report, each acknowledgement)
REPEATABLE = {PREFIX + k for k in ("acknowledged", "reported", "corrected")}


class EventFeed:
    """Incremental: each day reads only the feed's new page(s) and the ledger's new rows (and the
    few rows not judged yet), so a year costs no more per day at its end than at its start."""

    def __init__(self, api_url: str, auth: str) -> None:
        user, _, password = auth.partition(":")
        self.client = httpx.Client(base_url=api_url, timeout=60, auth=(user, password))
        self.since = datetime.now(UTC) - timedelta(minutes=5)
        self.seen: dict[str, tuple[str, str, str]] = {}  # id -> (event, resource, due_on)
        self.fresh: list[str] = []  # feed ids first seen since the last check
        self.by_change: dict[tuple[str, str, str], str] = {}  # change -> the feed id kept
        self.known: set[str] = set()  # every ledger uid read so far
        self.last_row = 0  # ledger rows up to this id have been read
        self.unjudged: set[int] = set()  # rows read but not emitted (or too recently) yet
        self.pages = 0

    def fetch(self) -> None:
        until = datetime.now(UTC) + timedelta(minutes=1)
        body = {"filter": {"occurred": {"since": (self.since - OVERLAP).isoformat(),
                                        "until": until.isoformat()},
                           "event": {"prefix": [PREFIX]}, "order": "ASC"}, "limit": 50}
        answer = self.client.post("/events/filter", json=body)
        while True:
            answer.raise_for_status()
            page = answer.json()
            self.pages += 1
            for event in page["events"]:
                if event["id"] in self.seen:
                    continue  # the overlap between two windows
                key = (event["event"], event["resource"].get("prefect.resource.id", ""),
                       str((event.get("payload") or {}).get("due_on", "")))
                self.seen[event["id"]] = key
                self.fresh.append(event["id"])
            if not page.get("next_page"):
                break
            answer = self.client.get(page["next_page"])
        self.since = until - timedelta(minutes=1)

    def check(self, day: date, checker, final: bool = False) -> None:
        self.fetch()
        cutoff = datetime.now(UTC) - (timedelta(0) if final else LAG)
        with checker.ctx.db.read() as s:
            rows = s.execute(select(ItemEvent.id, ItemEvent.uid, ItemEvent.kind,
                                    ItemEvent.occurrence_id, ItemEvent.emitted_at)
                             .where(or_(ItemEvent.id > self.last_row,
                                        ItemEvent.id.in_(sorted(self.unjudged))))).all()
        for rid, uid, kind, occ, emitted in rows:
            self.known.add(uid)
            self.last_row = max(self.last_row, rid)
            if emitted is None or emitted > cutoff:
                self.unjudged.add(rid)  # judged once emitted and settled
                continue
            self.unjudged.discard(rid)
            if uid not in self.seen:
                checker.flag(day, "event-feed", f"occurrence {occ}",
                             f"{kind} event {uid[:8]} marked emitted but not in the feed")
        fresh, self.fresh = self.fresh, []
        strangers = [i for i in fresh if i not in self.known]
        for event_id in strangers[:5]:
            checker.flag(day, "event-feed", self.seen[event_id][1],
                         f"feed event {event_id[:8]} unknown to the ledger")
        for event_id in strangers:
            self.seen.pop(event_id)
        twice: dict[tuple, int] = {}
        for event_id in fresh:
            key = self.seen.get(event_id)
            if key is None:
                continue
            if key not in self.by_change or key[0] in REPEATABLE:
                self.by_change.setdefault(key, event_id)
                continue
            twice[key] = twice.get(key, 1) + 1
            self.seen.pop(event_id)
        for key, times in twice.items():
            checker.flag(day, "event-feed", key[1], f"{key[0]} for due {key[2]} {times} times")

    def dump_logs(self, path) -> int:
        """Every flow and task run log line stored by the server, to one file (to be searched
        for tokens like the other logs)."""
        count, offset = 0, 0
        with open(path, "w", encoding="utf-8") as out:
            while True:
                answer = self.client.post("/logs/filter", json={"limit": 200, "offset": offset,
                                                                "sort": "TIMESTAMP_ASC"})
                answer.raise_for_status()
                rows = answer.json()
                for row in rows:
                    out.write(f"{row.get('timestamp')} {row.get('name')} {row.get('message')}\n")
                count += len(rows)
                if len(rows) < 200:
                    return count
                offset += 200

    def final(self, day: date, checker) -> dict[str, int]:
        time.sleep(LAG.total_seconds())
        self.check(day, checker, final=True)
        with checker.ctx.db.read() as s:
            rows = s.execute(select(ItemEvent.kind, ItemEvent.emitted_at)).all()
        pending = sum(1 for _, emitted in rows if emitted is None)
        return {"ledger": len(rows), "emitted": len(rows) - pending, "in_feed": len(self.seen),
                "pending": pending, "pages": self.pages}
