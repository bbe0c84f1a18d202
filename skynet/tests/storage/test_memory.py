"""What the memory store adds to the contract: stores on one URL share records, others don't."""

from __future__ import annotations

import uuid
from datetime import datetime

from skynet.domain import SensorReading
from skynet.storage import open_store


def test_same_url_shares_records_other_urls_do_not():
    name = f"memory://share-{uuid.uuid4().hex}"
    reading = SensorReading("a", datetime(2024, 1, 1), 21.0)
    with open_store(name) as first:
        assert first.write([reading]) == 1
    with open_store(name) as again:
        assert again.read(SensorReading) == [reading]
        assert again.write([reading]) == 0
    with open_store(f"{name}-other") as other:
        assert other.read(SensorReading) == []


def test_stored_rows_are_not_the_callers_objects():
    store = open_store(f"memory://copy-{uuid.uuid4().hex}")
    reading = SensorReading("a", datetime(2024, 1, 1), 21.0)
    store.write([reading])
    reading.temperature = 99.0  # mutating what was written changes nothing stored
    assert store.read(SensorReading)[0].temperature == 21.0
