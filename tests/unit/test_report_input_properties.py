"""Property-based: no report input crashes the checks; every rejection names the field and why."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from duban.plan.progress import Goal
from duban.reports.errors import ReportInputError
from duban.reports.inputs import (
    check_link,
    check_text,
    check_unit,
    parse_value,
)

GOALS = st.sampled_from([
    None,
    Goal("at_least", 2200, None, "户", "sum"),
    Goal("at_least", 100, None, "%", "min"),
    Goal("range", 10, 15, "个", "sum"),
    Goal("at_least", 18, None, "人/万人", "min"),
])
RAW = st.one_of(st.none(), st.text(max_size=30), st.integers(), st.floats(allow_nan=True),
                st.booleans(), st.decimals(allow_nan=False).map(str))
KINDS = st.sampled_from(["done", "progress", "ack"])


def _named(exc: ReportInputError, field: str) -> None:
    assert exc.field == field and exc.zh and exc.en


@settings(max_examples=400, deadline=None)
@given(RAW, GOALS, KINDS)
def test_any_value_is_a_checked_number_or_a_named_rejection(raw, goal, kind) -> None:
    try:
        value = parse_value(raw, goal, kind)
    except ReportInputError as exc:
        _named(exc, "value")
        return
    if value is not None:
        assert goal is not None and kind != "ack" and value >= 0
        assert goal.unit != "%" or value <= 100


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=3000))
def test_any_note_is_kept_or_refused_by_name(text) -> None:
    try:
        kept = check_text("note", text, "说明")
    except ReportInputError as exc:
        _named(exc, "note")
        return
    assert len(kept) <= 2000


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=10), GOALS)
def test_any_unit_is_the_targets_or_refused(unit, goal) -> None:
    try:
        kept = check_unit(unit, goal)
    except ReportInputError as exc:
        _named(exc, "unit")
        return
    assert kept == (goal.unit if goal else None)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_evidence_link_is_http_or_refused(url) -> None:
    try:
        kept = check_link(url)
    except ReportInputError as exc:
        _named(exc, "evidence")
        return
    assert kept.startswith(("http://", "https://"))
