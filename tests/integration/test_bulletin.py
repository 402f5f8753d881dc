"""督办通报 and 考评: a numbered Word document read back with python-docx (and LibreOffice when
installed), numbering that persists, and scores that follow the formula in config."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
from docx import Document
from docx.oxml.ns import qn
from sqlalchemy import select

from duban.calendar.clock import at_local
from duban.ledger.models import Bulletin
from duban.plan.config import ConfigError
from duban.reports.review import return_item
from duban.supervise.bulletin import compose, write_docx
from duban.supervise.score import ScoringSpec, load_scoring, score_departments, score_markdown
from tests.support.reports import HOMES, file_report, occ_id, sign_off

AS_OF = date(2023, 7, 14)


def _history(ctx) -> tuple[int, int, int]:
    on_time = occ_id(ctx, HOMES, "taishan-mzj", "2023-06")
    late = occ_id(ctx, HOMES, "daiyue-mzj", "2023-06")
    back = occ_id(ctx, HOMES, "xintai-mzj", "2023-06")
    file_report(ctx, on_time, value=10, now=at_local(date(2023, 7, 5), 10))
    sign_off(ctx, on_time, at_local(date(2023, 7, 6), 10))
    file_report(ctx, late, value=10, now=at_local(date(2023, 7, 11), 10))  # 2 working days late
    file_report(ctx, back, value=10, now=at_local(date(2023, 7, 6), 10))
    with ctx.db.session() as s:
        return_item(s, back, "数据与台账不符", "office", at_local(date(2023, 7, 12), 10),
                    ctx.calendar, 5)
    return on_time, late, back


def _issue(ctx, as_of: date = AS_OF):
    with ctx.db.session() as s:
        return compose(s, as_of, ctx.calendar, 0.7, ScoringSpec(), at_local(as_of, 18))


def test_the_bulletin_is_a_numbered_word_document_with_its_tables(loaded, tmp_path) -> None:
    _history(loaded)
    issue = _issue(loaded)
    path = write_docx(issue, tmp_path / "通报.docx")
    doc = Document(str(path))
    texts = [p.text for p in doc.paragraphs]
    assert texts[:2] == ["督办通报", "第1期"] and "2023年7月14日" in texts[2]
    assert any("按期报送率" in t and "审核销号0项，退回1项" in t for t in texts)
    flags, returned, ranking = doc.tables
    assert [c.text for c in flags.rows[0].cells][:4] == ["序号", "单位", "区县", "红（逾期）"]
    assert len(flags.rows) > 10 and all(int(r.cells[3].text) >= 0 for r in flags.rows[1:])
    assert [c.text for c in returned.rows[1].cells][:5] == [
        "新泰市民政局", issue.returned[0].duty, "2023-06", "2023-07-12", "数据与台账不符"]
    header = [c.text for c in ranking.rows[0].cells]
    assert header[:3] == ["排名", "单位", "得分"]
    scores = {r.cells[1].text: float(r.cells[2].text) for r in ranking.rows[1:]}
    assert scores["泰山区民政局"] > scores["岱岳区民政局"]
    assert "岱岳区民政局" not in texts[-1]  # a late report is not 按期完成
    fonts = doc.styles["Normal"].element.rPr.rFonts
    assert fonts.get(qn("w:eastAsia")) == "仿宋"


def test_the_numbering_persists_per_period(loaded, tmp_path) -> None:
    assert _issue(loaded).no == 1
    assert _issue(loaded).no == 1  # the same week again keeps its number
    assert _issue(loaded, date(2023, 7, 21)).no == 2
    with loaded.db.session() as s:
        assert [b.no for b in s.scalars(select(Bulletin).order_by(Bulletin.no))] == [1, 2]


def test_scores_follow_the_formula(loaded) -> None:
    _history(loaded)
    with loaded.db.session() as s:
        result = score_departments(s, AS_OF, loaded.calendar, ScoringSpec())
    scores = {d.code: d for d in result.lines}
    good, late, back = scores["taishan-mzj"], scores["daiyue-mzj"], scores["xintai-mzj"]
    assert (good.due, good.on_time, late.due, late.on_time) == (9, 1, 9, 0)
    assert late.late_days - good.late_days == 2  # the report two working days late
    assert good.score - late.score == pytest.approx(40 / 9 + 2 * 0.5, abs=0.11)
    assert (back.returned, back.due) == (1, 8)  # due again on the rework deadline (07-19)
    for line in result.lines:
        rate = line.on_time / line.due if line.due else 1
        expected = 100 - 40 * (1 - rate) - min(30, 0.5 * line.late_days) - 2 * line.returned \
            - line.unacknowledged
        assert line.score == pytest.approx(max(0, expected), abs=0.06)
    assert [line.rank for line in result.lines] == list(range(1, len(result.lines) + 1))
    text = score_markdown(result)
    assert "## 考评得分" in text and "| 1 | " in text


def test_scoring_weights_come_from_config(tmp_path) -> None:
    (tmp_path / "scoring.yaml").write_text("weights:\n  returned: 5\n", encoding="utf-8")
    assert load_scoring(tmp_path).weights.returned == 5
    (tmp_path / "scoring.yaml").write_text("weights:\n  returned: -1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="weights.returned"):
        load_scoring(tmp_path)
    assert load_scoring(Path(tmp_path / "none")).base == 100


@pytest.mark.skipif(shutil.which("libreoffice") is None and shutil.which("soffice") is None,
                    reason="LibreOffice is not installed here (not installed on purpose)")
def test_libreoffice_opens_the_bulletin(loaded_sqlite, tmp_path) -> None:
    path = write_docx(_issue(loaded_sqlite), tmp_path / "b.docx")
    office = shutil.which("libreoffice") or shutil.which("soffice")
    subprocess.run([office, "--headless", "--convert-to", "pdf", "--outdir", str(tmp_path),
                    str(path)], check=True, timeout=180, capture_output=True)
    assert (tmp_path / "b.pdf").stat().st_size > 1000


def test_the_bulletin_command(loaded_sqlite, tmp_path, monkeypatch) -> None:
    from tests.support.cli import point_cli_at, run

    point_cli_at(loaded_sqlite, monkeypatch)
    out = tmp_path / "通报.docx"
    result = run("bulletin", "--as-of", "2023-07-14", "--docx", str(out))
    assert result.exit_code == 0 and "督办通报（第1期）" in result.output and out.exists()
    assert run("bulletin", "--docx", str(tmp_path / "x.pdf")).exit_code == 2
    assert run("bulletin", "--plan", "1999", "--docx", str(out)).exit_code == 1


def test_the_excel_has_real_dates_filters_a_plan_column_scores_and_evidence_links(
    loaded_sqlite, tmp_path
) -> None:
    from datetime import datetime

    from openpyxl import load_workbook

    from duban.supervise.board import build_board
    from duban.supervise.export import write_xlsx

    ctx = loaded_sqlite
    _history(ctx)
    with ctx.db.read() as s:
        board = build_board(s, AS_OF, ctx.calendar)
        scores = score_departments(s, AS_OF, ctx.calendar, ScoringSpec())
    path = write_xlsx(board, tmp_path / "台账.xlsx", scores, office_url="https://duban.example")
    book = load_workbook(path)
    sheet = book["02 社区养老服务行动"]
    headers = [c.value for c in sheet[1]]
    assert headers[-2:] == ["方案", "报送材料"]
    due = sheet.cell(row=2, column=headers.index("截止日期") + 1)
    assert isinstance(due.value, datetime) and due.number_format == "yyyy-mm-dd"
    assert sheet.auto_filter.ref and sheet.auto_filter.ref.startswith("A1:")
    assert sheet.cell(row=2, column=len(headers) - 1).value == "taimin-2023-12"
    link = sheet.cell(row=2, column=len(headers)).hyperlink.target
    assert link.startswith("https://duban.example/office/items/")
    ranking = book["考评"]
    assert [c.value for c in ranking[3]][:3] == ["排名", "单位", "得分"]
    assert ranking.auto_filter.ref.startswith("A3:")


def test_a_digest_left_unanswered_costs_points(loaded_sqlite) -> None:
    from duban.ledger.models import Digest

    ctx = loaded_sqlite
    with ctx.db.session() as s:
        for day in (date(2023, 7, 3), date(2023, 7, 10)):
            s.add(Digest(recipient="taishan-mzj", day=day, seq=0, title="督办汇总", body="…",
                         state="sent", created_at=at_local(day, 9)))
    occ = occ_id(ctx, HOMES, "taishan-mzj", "2023-06")
    file_report(ctx, occ, "ack", now=at_local(date(2023, 7, 11), 10))  # answers the 07-10 one
    with ctx.db.session() as s:
        line = next(d for d in score_departments(s, AS_OF, ctx.calendar, ScoringSpec()).lines
                    if d.code == "taishan-mzj")
    assert (line.digests, line.unacknowledged) == (2, 1)
