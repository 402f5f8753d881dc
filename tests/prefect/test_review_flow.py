"""审核销号 from the Prefect UI: a form with Chinese titles, a verdict audited with the run's id,
the run's state saying what happened, and the item event emitted."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date

import pytest
from prefect.states import State
from sqlalchemy import select

from duban.calendar.clock import at_local
from duban.ledger.models import AuditEntry, Department, Duty, ItemEvent, Occurrence
from duban.reports.submission import Submission, Submitter, submit
from flows.review import review_flow

pytestmark = pytest.mark.prefect


def test_the_form_has_chinese_titles_and_the_two_verdicts() -> None:
    props = review_flow.parameters.model_dump()["properties"]
    assert [props[k]["title"] for k in ("occurrence", "verdict", "reason", "reviewer")] == [
        "事项编号", "审核结论", "退回原因", "审核人"]
    assert props["verdict"]["enum"] == ["销号", "退回"]


def _reported(ctx, code: str) -> int:
    with ctx.db.session() as s:
        occ = s.scalar(select(Occurrence).join(Duty).join(Department).where(
            Duty.key == "elderly-home-adaptation/progress", Department.code == code,
            Occurrence.period == "2023-06"))
        submit(s, Submission(occ.id, "done", uuid.uuid4().hex, value=12),
               Submitter(occ.department_id), ctx.report_rules, at_local(date(2023, 7, 5)))
        return occ.id


def run(**params) -> State:
    return asyncio.run(review_flow(**params, return_state=True))


@pytest.mark.usefixtures("harness")
def test_accept_and_return_from_the_ui(ledger) -> None:
    first, second = _reported(ledger, "taishan-mzj"), _reported(ledger, "daiyue-mzj")
    done = run(occurrence=first, verdict="销号", reviewer="王五")
    assert done.is_completed() and done.name == "已销号" and "已审核销号" in done.message
    back = run(occurrence=second, verdict="退回", reason="佐证材料不全", reviewer="王五")
    assert back.name == "已退回" and "佐证材料不全" in back.message
    refused = run(occurrence=second, verdict="退回", reason="")
    assert refused.is_failed() and refused.name == "未审核"
    with ledger.db.session() as s:
        audit = s.scalar(select(AuditEntry).where(AuditEntry.verb == "review_accepted"))
        kinds = {e.kind: e.emitted_at for e in s.scalars(select(ItemEvent))
                 if e.kind in ("closed", "returned")}
        status = {o.id: o.status for o in s.scalars(select(Occurrence).where(
            Occurrence.id.in_([first, second])))}
    assert audit.actor == "office:王五"
    assert audit.detail["via"] == f"prefect:{done.state_details.flow_run_id}"
    assert set(kinds) == {"closed", "returned"} and all(kinds.values())
    assert status == {first: "closed", second: "open"}


@pytest.mark.usefixtures("harness")
def test_the_weekly_bulletin_is_stored_and_linked(ledger) -> None:
    from prefect.client.orchestration import get_client

    from flows.bulletin import ARTIFACT_KEY, bulletin_flow

    state = asyncio.run(bulletin_flow(as_of="2023-07-14", return_state=True))
    assert state.is_completed() and state.name == "已编写", state.message
    outcome = state.result()
    assert outcome["no"] == 1 and outcome["link"].endswith("/office/bulletins/taimin-2023-12/1")
    from docx import Document

    assert Document(outcome["path"]).paragraphs[1].text == "第1期"

    async def latest():
        async with get_client() as client:
            return await client.read_latest_artifacts()

    found = [a for a in asyncio.run(latest()) if a.key == ARTIFACT_KEY]
    assert found and "第1期" in (found[0].data or "") + (found[0].description or "")
