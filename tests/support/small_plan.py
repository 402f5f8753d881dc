"""A config folder small enough to reason about: one city item owed by 市市场监管局 (scjgj) and
one county item owed by 泰山区市场监督管理局 (taishan-scjgj), September 2023's progress."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.support.paths import CONFIG_DIR


def write_config(root: Path) -> Path:
    """A two-department, two-target plan under root (with the repo's ladder and routing)."""
    (root / "plans").mkdir(parents=True)
    departments = {
        "jurisdictions": [
            {"code": "city", "name": "泰安市", "kind": "city"},
            {"code": "taishan", "name": "泰山区", "kind": "county",
             "bodies": {"mzj": "泰山区民政局", "scjgj": "泰山区市场监督管理局"}},
        ],
        "departments": [
            {"code": "mzj", "name": "泰安市民政局", "short": "市民政局", "county": "民政局"},
            {
                "code": "scjgj",
                "name": "泰安市市场监督管理局",
                "short": "市市场监管局",
                "county": "市场监管局",
            },
        ],
    }
    target = {
        "measure": "数量",
        "op": "at_least",
        "value": 10,
        "unit": "个",
        "deadline": "year_end",
        "rollup": "sum",
        "owner": "市市场监管局",
    }
    plan = {
        "plan": {
            "key": "walk-2023",
            "title": "测试方案",
            "doc_no": "测〔2023〕1号",
            "issuer": "泰安市民政局",
            "issued": "2023-09-01",
            "year": 2023,
            "starts": "2023-09-01",
            "ends": "2023-12-31",
        },
        "actions": [
            {
                "no": 1,  # actions are numbered 1..N
                "title": "社区养老服务行动",
                "clause": "测试条款。",
                "departments": ["市民政局", "市市场监管局"],
                "targets": [
                    {"key": "city-figure", "title": "城市数据", "local": False, **target},
                    {"key": "county-figure", "title": "县级数据", "local": True, **target},
                ],
            }
        ],
    }
    (root / "departments.yaml").write_text(yaml.safe_dump(departments, allow_unicode=True))
    (root / "plans" / "walk.yaml").write_text(yaml.safe_dump(plan, allow_unicode=True))
    for name in ("ladder.yaml", "notify.yaml"):
        (root / name).write_text((CONFIG_DIR / name).read_text(encoding="utf-8"))
    return root
