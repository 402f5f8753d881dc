"""Every office action taken through a Prefect form is in the ledger's audit trail with its run."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest
from sqlalchemy import select

from duban.calendar.clock import at_local
from duban.ledger.models import AuditEntry
from duban.service import materialise_all
from flows import extension_flow, office_entry
from tests.support.ledger import target_occurrence

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("harness")]


def form_entries(ctx) -> list[AuditEntry]:
    with ctx.db.read() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.actor.like("prefect:%"))
                                    .order_by(AuditEntry.id)))


def test_office_forms_are_audited_with_their_flow_run(ledger) -> None:
    materialise_all(ledger, at_local(date(2023, 10, 9)))
    occ = target_occurrence(ledger, "taishan-mzj", "elderly-home-adaptation", "2023-09")
    entered = asyncio.run(office_entry(
        单位代码="taishan-mzj", 事项编号=occ, 报送类型="报送进展", 数值="260", 计量单位="户",
        登记人="office:伪造者", 收到日期="2023-10-09", return_state=True))
    refused = asyncio.run(extension_flow(申请编号=999999, 审批结果="批准", return_state=True))
    assert entered.name == "已登记" and refused.is_failed()
    first, second = form_entries(ledger)
    run_id = str(entered.state_details.flow_run_id)
    assert first.actor == f"prefect:{run_id}" and first.verb == "登记报送"
    assert first.entity_key == str(occ) and first.detail["flow_run_id"] == run_id
    assert "office:伪造者" in first.detail["params"].values()  # who claimed, beside who ran
    assert first.detail["flow_run_name"].startswith("登记报送")
    assert second.verb == "审批延期" and second.entity_key == "999999"
    assert second.detail["flow_run_id"] == str(refused.state_details.flow_run_id)
    assert "error" in second.detail["outcome"]
