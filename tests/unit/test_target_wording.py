"""Targets are worded as the seed document words them (issue 17.5): a target reads as its name
followed by its goal (the board's 指标 and 目标 columns, a duty's title), and that reading keeps
the document's 平均拥有, 率, 占比 and 全覆盖. The document's phrases are typed in here from
docs/source/plan-2023-taimin-12.txt; the wording comes from the plan config through duban."""

from __future__ import annotations

import re

import pytest

from duban.plan.config import load_config
from duban.plan.duties import target_goal
from tests.support.paths import CONFIG_DIR, SEED

# target key -> the document's phrase its wording must contain (spaces removed)
PHRASES = {
    "urban-community-social-orgs": "城市社区平均拥有",
    "rural-community-social-orgs": "农村社区平均拥有",
    "urban-parent-schools": "城市社区建校（站点）率达到80%",
    "village-parent-schools": "行政村建校（站点）率达到70%",
    "elderly-visit-rate": "月探访率达到100%",
    "recommended-standard-institutions": "推荐标准机构占比达到45%",
    "assistance-stations-coverage": "村（社区）社会救助站（点）",
    "three-lists-coverage": "县（市、区）覆盖率达到100%",
    "elderly-home-adaptation": "不少于2200户",
    "community-sports-meets": "社区运动会超过180场",
    "smart-communities": "不少于120个",
}
MARKERS = ("平均拥有", "率", "占比", "全覆盖")


def nows(text: str) -> str:
    return re.sub(r"\s+", "", text)


def wordings() -> dict[str, tuple[str, str]]:
    """key -> (name + goal as shown, the target's source sentence)."""
    plan = load_config(CONFIG_DIR).plan()
    return {t.key: (nows(t.title + target_goal(t)), nows(t.source))
            for a in plan.actions for t in a.targets}


def test_the_phrases_are_the_documents() -> None:
    seed = nows(SEED.read_text(encoding="utf-8"))
    for phrase in PHRASES.values():
        assert phrase in seed, phrase


@pytest.mark.parametrize(("key", "phrase"), sorted(PHRASES.items()))
def test_a_target_reads_as_the_document_writes_it(key: str, phrase: str) -> None:
    shown, _ = wordings()[key]
    assert phrase in shown, shown


def test_every_marker_of_the_source_sentence_is_kept() -> None:
    for key, (shown, source) in wordings().items():
        for marker in MARKERS:
            if marker in source:
                assert marker in shown, (key, marker, shown)


def test_no_doubled_or_dropped_words() -> None:
    for key, (shown, _) in wordings().items():
        assert "覆盖全覆盖" not in shown and "建设不少于" not in shown, (key, shown)
        if "%" in shown:  # a percentage is a rate or a share, and says so
            assert "率" in shown or "占比" in shown, (key, shown)
