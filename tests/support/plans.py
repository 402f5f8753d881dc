"""A config folder holding the shipped plan and a second plan of another shape (another issuer,
4 actions, quarterly targets, departments of its own): tests/fixtures/second_plan."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from tests.support.paths import REPO

SECOND = REPO / "tests" / "fixtures" / "second_plan"
SECOND_KEY = "volunteer-2023-5"
FIRST_KEY = "taimin-2023-12"


def two_plan_config(tmp_path: Path, **plan_fields: object) -> Path:
    """config/ copied under tmp_path with the second plan added; `plan_fields` override fields of
    the second plan's `plan:` block (e.g. ladder_from=date(2023, 11, 1))."""
    config = tmp_path / "config"
    shutil.copytree(REPO / "config", config)
    departments = config / "departments.yaml"
    departments.write_text(
        departments.read_text(encoding="utf-8").rstrip("\n") + "\n"
        + (SECOND / "departments_extra.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    data = yaml.safe_load((SECOND / "plans" / "volunteer-2023.yaml").read_text(encoding="utf-8"))
    data["plan"].update(plan_fields)
    (config / "plans" / "volunteer-2023.yaml").write_text(
        yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return config
