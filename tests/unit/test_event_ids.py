"""Item event ids (duban.ledger.item_events.uuid4_strings): what uuid.uuid4 gives, in bulk."""

from __future__ import annotations

import uuid

from duban.ledger.item_events import uuid4_strings


def test_bulk_ids_are_distinct_random_uuids_written_as_str_writes_them() -> None:
    ids = uuid4_strings(20_000)
    parsed = [uuid.UUID(i) for i in ids]
    assert len(set(ids)) == len(ids) == 20_000
    assert all(u.version == 4 and u.variant == uuid.RFC_4122 for u in parsed)
    assert [str(u) for u in parsed] == ids
    assert len({i[0] for i in ids}) == 16  # random digits, not a counter
    assert uuid4_strings(0) == []
