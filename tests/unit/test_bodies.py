"""Counties and zones have the bodies config lists, by the names config writes; a duty for a body
a jurisdiction does not have goes to the body covering that work or to the configured fallback."""

from __future__ import annotations

import shutil
from functools import cache
from pathlib import Path

import pytest
import yaml

from duban.plan.config import ConfigError, PlanConfig, load_config
from duban.plan.duties import derive_duties
from tests.support.paths import CONFIG_DIR


@cache
def config() -> PlanConfig:
    return load_config(CONFIG_DIR)


def config_text() -> str:
    return (CONFIG_DIR / "departments.yaml").read_text(encoding="utf-8")


def owners(target_key: str) -> tuple[str, ...]:
    cfg = config()
    return next(d.owner_codes for d in derive_duties(cfg, cfg.plan())
                if d.key == f"{target_key}/progress")


def test_every_body_name_is_written_in_config() -> None:
    """No name is built: each body's name and every alias appear verbatim in departments.yaml."""
    text = config_text()
    bodies = config().registry.bodies()
    assert bodies
    for body in bodies:
        for form in (body.name, body.short, *body.aliases):
            assert form in text, (body.code, form)


def test_the_names_issue_17_found_built_are_gone() -> None:
    names = {b.name for b in config().registry.bodies()}
    assert {"泰山区委组织部", "泰山区人民法院", "泰山区教育和体育局"} <= names
    for built in ("泰山区党委组织部", "泰山区法院", "泰山区体育局", "泰山区农业农村委员会办公室",
                  "泰山风景名胜区法院", "泰安高新技术产业开发区党委组织部",
                  "泰安旅游经济开发区科协"):
        assert built not in names


def test_zones_have_only_their_configured_bodies() -> None:
    registry = config().registry
    for j in registry.jurisdictions:
        mine = {b.code for b in registry.bodies() if b.jurisdiction.code == j.code}
        assert mine == {f"{j.code}-{key}" for key in j.bodies}
        if j.kind == "zone":
            assert list(j.bodies) == [j.fallback]  # the social-affairs body answers for the zone


def test_every_owner_is_a_configured_department_or_body() -> None:
    cfg = config()
    known = {d.code for d in cfg.registry.city_departments}
    known |= {b.code for b in cfg.registry.bodies()}
    for duty in derive_duties(cfg, cfg.plan()):
        assert set(duty.owner_codes) <= known, (duty.key, set(duty.owner_codes) - known)
        assert len(set(duty.owner_codes)) == len(duty.owner_codes), duty.key


def test_a_zone_reports_through_its_fallback_and_sport_through_education() -> None:
    villages = owners("provincial-beautiful-villages")  # owned by the city's 农业农村局
    assert "taishan-nyj" in villages and "gaoxin-mzj" in villages
    assert not any(code.startswith("gaoxin-nyj") for code in villages)
    sports = owners("community-sports-meets")  # owned by the city's 体育局
    assert "taishan-jyj" in sports and "taishan-tyj" not in sports
    assert "taishanjq-mzj" in sports


def _config_with(tmp_path: Path, change) -> Path:
    root = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, root)
    path = root / "departments.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return root


def _county(data: dict, code: str) -> dict:
    return next(j for j in data["jurisdictions"] if j["code"] == code)


def test_names_come_from_config_whatever_they_are(tmp_path: Path) -> None:
    """A body named in config is used as written, even one no rule could build."""

    def rename(data: dict) -> None:
        _county(data, "taishan")["bodies"]["mzj"] = "泰山区社会事务服务中心"

    cfg = load_config(_config_with(tmp_path, rename))
    body = next(b for b in cfg.registry.bodies() if b.code == "taishan-mzj")
    assert (body.name, body.short, body.city_code) == ("泰山区社会事务服务中心",
                                                       "泰山区社会事务服务中心", "mzj")


@pytest.mark.parametrize(("change", "path", "words"), [
    (lambda d: _county(d, "gaoxin").pop("fallback"), "jurisdictions[7].bodies",
     "泰安高新技术产业开发区 has no body for"),
    (lambda d: _county(d, "gaoxin").update(fallback="gaj"), "jurisdictions[7].fallback",
     "'gaj' is not one of"),
    (lambda d: _county(d, "taishan")["bodies"].update(xyz="泰山区某局"),
     "jurisdictions[1].bodies.xyz", "unknown city department code 'xyz'"),
    (lambda d: _county(d, "daiyue")["bodies"].update(mzj="泰山区民政局"),
     "jurisdictions[2].bodies.mzj", "already names"),
])
def test_a_bad_body_is_named(tmp_path: Path, change, path: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(_config_with(tmp_path, change))
    assert any(p.path == path and words in p.message and p.file.endswith("departments.yaml")
               for p in caught.value.problems), caught.value.problems
