"""Read and validate the plan config (config/): every problem names its file, field path and fault.

Shapes are checked by pydantic models (field paths for free); cross-references (departments named by
alias, unique keys) are checked here. `load_config` returns a `PlanConfig` or raises `ConfigError`
carrying every problem found, never a traceback for the user.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from duban.calendar.clock import TIMEZONE

CODE_RE = r"^[a-z][a-z0-9]*$"
KEY_RE = r"^[a-z0-9][a-z0-9-]*$"
Number = int | float


def plan_figure(value: Number) -> Number:
    """A figure in a plan is finite and never negative (targets count things or are %)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("must be a finite number")
    if value < 0:
        raise ValueError("must be greater than or equal to 0")
    return value


@dataclass(frozen=True)
class Problem:
    file: str
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.path}" if self.path else self.file
        return f"{where}: {self.message}"


class ConfigError(ValueError):
    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BodySpec(_Strict):
    """A body of a county or zone, by its official name as written in config (never built).
    `covers`: other city departments whose work this body does here (e.g. sport sitting in
    the education and sport bureau)."""

    name: str = Field(min_length=1)
    short: str | None = None
    aliases: list[str] = []
    covers: list[str] = []


class JurisdictionSpec(_Strict):
    """The city, a county or a functional zone. `bodies`: city department code -> the body that
    is its counterpart here (a county or zone has only the bodies listed); `fallback`: the city
    department code whose body here answers for a city department without one."""

    code: str = Field(pattern=CODE_RE)
    name: str = Field(min_length=1)
    kind: Literal["city", "county", "zone"]
    bodies: dict[str, BodySpec] = {}
    fallback: str | None = None

    @field_validator("bodies", mode="before")
    @classmethod
    def _named(cls, value: Any) -> Any:
        """A body written as a bare name is the same as {name: ...}."""
        if isinstance(value, dict):
            return {k: {"name": v} if isinstance(v, str) else v for k, v in value.items()}
        return value


class DepartmentSpec(_Strict):
    code: str = Field(pattern=CODE_RE)
    name: str = Field(min_length=1)
    short: str = Field(min_length=1)
    aliases: list[str] = []
    county: str | None = None


class OfficeSpec(_Strict):
    """The coordinating office (督办办公室) as departments are told to reach it (office.yaml,
    optional; the same for every plan)."""

    name: str = Field(default="督办办公室", min_length=1, max_length=100)
    phone: str = Field(default="", max_length=100)
    email: str = Field(default="", max_length=200)
    hours: str = Field(default="", max_length=100)  # 办公时间

    @property
    def contact(self) -> str:
        """'name（电话 …，邮箱 …）' with whatever is configured."""
        parts = [f"电话 {self.phone}" if self.phone else "", f"邮箱 {self.email}" if self.email
                 else "", f"办公时间 {self.hours}" if self.hours else ""]
        shown = "，".join(p for p in parts if p)
        return f"{self.name}（{shown}）" if shown else self.name


class DepartmentsFile(_Strict):
    jurisdictions: list[JurisdictionSpec] = Field(min_length=1)
    departments: list[DepartmentSpec] = Field(min_length=1)


TODO = "待填写"  # a value the office still has to fill in (written by `plan new`, the template)
Todo = Literal["待填写"]


class PlanSpec(_Strict):
    """The plan's identity. `draft: true` loads it in state draft (not chased) until
    `duban plan activate`; once in the ledger only activate / close change its state.
    `ladder_from`: for items already overdue then, urging and escalation count from this day."""

    key: str = Field(pattern=KEY_RE)
    title: str
    doc_no: str
    issuer: str
    issued: date | Todo
    year: int = Field(ge=2000, le=2100)
    timezone: str = TIMEZONE
    starts: date
    ends: date
    draft: bool = False
    ladder_from: date | Todo | None = None
    # 审核销号: a department's closing report waits for the office to accept (销号) or return it
    review_required: bool = True

    def todo_fields(self) -> list[str]:
        """The fields still marked 待填写 (an unreviewed draft)."""
        return [name for name in ("doc_no", "issued", "ladder_from")
                if TODO in str(getattr(self, name) or "")]

    @field_validator("timezone")
    @classmethod
    def _china_time(cls, value: str) -> str:
        if value != TIMEZONE:
            raise ValueError(f"deadlines are China's working days: only {TIMEZONE} is supported")
        return value


class PartsSpec(_Strict):
    """A rate or an average reported as its two parts, each named as the report form asks for
    it (e.g. 已探访人数 / 应探访人数; 社区社会组织数 / 城市社区数). The city figure is then
    sum(numerator) / sum(denominator) (x100 for a %), never a mean of the units' figures."""

    numerator: str = Field(min_length=1, max_length=100)
    denominator: str = Field(min_length=1, max_length=100)


class BaselineSpec(_Strict):
    """Where a target stood when counting began: progress is expected from `value` on `on`
    (without one, from 0 at the plan year's start)."""

    on: date
    value: Number = 0

    @field_validator("value")
    @classmethod
    def _figure(cls, value: Number) -> Number:
        return plan_figure(value)


class TargetSpec(_Strict):
    key: str = Field(pattern=KEY_RE)
    title: str
    measure: str
    op: Literal["at_least", "more_than", "exactly", "range", "full_coverage"]
    value: Number | list[Number]
    unit: str = Field(min_length=1)
    deadline: Literal["year_end", "within_year", "monthly", "through_year"]
    rollup: Literal["sum", "average", "min", "all_covered"]
    cumulative: bool = False
    period: Literal["monthly", "quarterly"] = "monthly"
    local: bool = True
    owner: str | None = None
    source: str = ""
    allocations: dict[str, Number] = {}  # jurisdiction code -> its share (任务分解)
    parts: PartsSpec | None = None  # a rate / an average reported as numerator and denominator
    # counties: the document says 县（市、区）: only counties report, functional zones do not
    scope: Literal["all", "counties"] = "all"
    # 各级: the owner reports the city level's own contribution beside the counties' (local)
    city_reports: bool = False
    baseline: BaselineSpec | None = None

    @field_validator("value")
    @classmethod
    def _range_pair(cls, value: Number | list[Number]) -> Number | list[Number]:
        for figure in value if isinstance(value, list) else [value]:
            plan_figure(figure)
        if isinstance(value, list) and (len(value) != 2 or value[0] > value[1]):
            raise ValueError("a range is written [low, high] with low <= high")
        return value

    @field_validator("allocations")
    @classmethod
    def _shares(cls, value: dict[str, Number]) -> dict[str, Number]:
        for share in value.values():
            plan_figure(share)
        return value

    @property
    def low(self) -> float:
        return float(self.value[0] if isinstance(self.value, list) else self.value)

    @property
    def high(self) -> float | None:
        return float(self.value[1]) if isinstance(self.value, list) else None


class MilestoneSpec(_Strict):
    key: str = Field(pattern=KEY_RE)
    title: str
    deliverable: str = Field(min_length=1)
    owner: str | None = None
    due: Literal["year_end"] | date = "year_end"


class ActionSpec(_Strict):
    no: int = Field(ge=1)
    title: str = Field(min_length=1)
    clause: str = Field(min_length=1)
    departments: list[str] = Field(min_length=1)
    targets: list[TargetSpec] = []
    milestones: list[MilestoneSpec] = []


class PlanFile(_Strict):
    plan: PlanSpec
    actions: list[ActionSpec] = Field(min_length=1)


class DeadlineRule(_Strict):
    rule: Literal["nth_workday_of_next_month", "last_workday_of_period", "nth_workday_after"]
    n: int = Field(default=1, ge=1, le=23)


class LadderSpec(_Strict):
    advance_notice: int = Field(default=3, ge=0, le=20)
    due_day: bool = True
    urge_after: int = Field(default=1, ge=1, le=20)
    escalate_after: int = Field(default=3, ge=1, le=60)
    repeat_every: int = Field(default=2, ge=1, le=60)
    max_repeats: int = Field(default=5, ge=0, le=100)
    ack_pause: int = Field(default=5, ge=0, le=60)


class ReviewSpec(_Strict):
    rework_days: int = Field(default=5, ge=1, le=60)


class LadderFile(_Strict):
    deadlines: dict[
        Literal["monthly_report", "quarterly_report", "final_check", "milestone"], DeadlineRule
    ] = {}
    warning_days: int = Field(default=3, ge=0, le=30)
    slow_progress_ratio: float = Field(default=0.7, gt=0, le=1)
    # a reported figure above this many times its target is refused as implausible (a typo,
    # a unit slip); raise it for targets that are ceilings (at_most) if need be
    value_ceiling: float = Field(default=10, ge=1, le=1_000_000)
    ladder: LadderSpec = LadderSpec()
    review: ReviewSpec = ReviewSpec()
    send_hour: int = Field(default=9, ge=0, le=23)


DEFAULT_DEADLINES = {
    "monthly_report": DeadlineRule(rule="nth_workday_of_next_month", n=5),
    "quarterly_report": DeadlineRule(rule="nth_workday_of_next_month", n=10),
    "final_check": DeadlineRule(rule="nth_workday_of_next_month", n=10),
    "milestone": DeadlineRule(rule="last_workday_of_period"),
}


@dataclass(frozen=True)
class Body:
    """A county's or zone's body as the ledger holds it: `code` is `{jurisdiction}-{city code}`
    (a stable identifier), `name` / `short` / `aliases` exactly as config writes them."""

    jurisdiction: JurisdictionSpec
    code: str
    city_code: str
    name: str
    short: str
    aliases: tuple[str, ...]


def body_code(jurisdiction: str, city_code: str) -> str:
    return f"{jurisdiction}-{city_code}"


@dataclass(frozen=True)
class Registry:
    """Jurisdictions and departments: the city's listed, each county's and zone's bodies listed
    under it (config names them; nothing here builds a name)."""

    jurisdictions: list[JurisdictionSpec]
    city_departments: list[DepartmentSpec]
    aliases: dict[str, str]  # every written form -> department code

    def resolve(self, written: str) -> str | None:
        return self.aliases.get(written.strip())

    def bodies(self) -> list[Body]:
        """Every body of every county and zone, in config order."""
        out = []
        for j in self.jurisdictions:
            if j.kind == "city":
                continue
            for city_code, spec in j.bodies.items():
                out.append(Body(j, body_code(j.code, city_code), city_code, spec.name,
                                spec.short or spec.name, tuple(spec.aliases)))
        return out

    def answering_body(self, jurisdiction: JurisdictionSpec, city_code: str) -> str | None:
        """The code of the body that answers here for the city department: its own body, the
        body that covers its work, else the configured fallback; None when there is none."""
        if jurisdiction.kind == "city":
            return None
        if city_code in jurisdiction.bodies:
            return body_code(jurisdiction.code, city_code)
        for key, spec in jurisdiction.bodies.items():
            if city_code in spec.covers:
                return body_code(jurisdiction.code, key)
        if jurisdiction.fallback in jurisdiction.bodies:
            return body_code(jurisdiction.code, jurisdiction.fallback)
        return None

    def counterparts(self, code: str) -> list[tuple[JurisdictionSpec, str]]:
        """(jurisdiction, code of the body answering there) for each county and zone, for a city
        department that has local counterparts (`county` set); [] for a city-only department."""
        spec = next(d for d in self.city_departments if d.code == code)
        if not spec.county:
            return []
        out = []
        for j in self.jurisdictions:
            answering = self.answering_body(j, code)
            if answering is not None:
                out.append((j, answering))
        return out

    def city(self) -> JurisdictionSpec:
        return next(j for j in self.jurisdictions if j.kind == "city")


@dataclass(frozen=True)
class PlanConfig:
    registry: Registry
    plans: list[tuple[str, PlanFile]]  # (file name, plan)
    ladder: LadderFile
    deadlines: dict[str, DeadlineRule] = field(default_factory=dict)
    office: OfficeSpec = field(default_factory=OfficeSpec)

    def plan(self, key: str | None = None) -> PlanFile:
        if key is None:
            return self.plans[-1][1]
        for _, plan in self.plans:
            if plan.plan.key == key or str(plan.plan.year) == key:
                return plan
        raise KeyError(f"no plan {key!r}; known: {[p.plan.key for _, p in self.plans]}")


# libyaml's parser when PyYAML has it (its wheels do): ~5x faster than the pure-Python one, and
# every command and the report page read the configuration when they start.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _UniqueKeyLoader(_SafeLoader):  # type: ignore[misc, valid-type]
    """SafeLoader that refuses a mapping key written twice (PyYAML silently keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                line = key_node.start_mark.line + 1
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (line {line})", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


# Dates stay text so that pydantic judges them with a field path (PyYAML's own timestamp
# constructor raises a bare ValueError on 2023-02-30).
_UniqueKeyLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

#: read_yaml's answer for a file it could not read (its problem is already recorded).
UNREADABLE = object()


def read_yaml(path: Path, problems: list[Problem]) -> Any:
    try:
        with path.open(encoding="utf-8") as stream:
            return yaml.load(stream, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader
    except FileNotFoundError:
        problems.append(Problem(str(path), "", "file not found"))
    except UnicodeDecodeError as exc:
        problems.append(Problem(str(path), "", f"not UTF-8 text ({exc.reason})"))
    except yaml.YAMLError as exc:
        problems.append(Problem(str(path), "", f"bad YAML: {_yaml_message(exc)}"))
    except ValueError as exc:  # a constructor's complaint, e.g. a number too large
        problems.append(Problem(str(path), "", f"bad value: {exc}"))
    return UNREADABLE


def _yaml_message(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark else problem


def _validate(model: type[BaseModel], data: Any, file: str, problems: list[Problem]) -> Any:
    if data is UNREADABLE:
        return None
    if data is None:
        problems.append(Problem(file, "", "the file is empty"))
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            path = _dotted(error["loc"])
            value = error.get("input")
            shown = f" (got {value!r})" if not isinstance(value, dict | list) else ""
            problems.append(Problem(file, path, f"{error['msg']}{shown}"))
        return None


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def load_config(config_dir: str | Path) -> PlanConfig:
    """Read departments.yaml, ladder.yaml, plans/*.yaml; raise ConfigError listing all problems."""
    root = Path(config_dir)
    problems: list[Problem] = []
    if not root.is_dir():
        raise ConfigError([Problem(str(root), "", "not a directory")])
    dep_file = root / "departments.yaml"
    departments = _validate(
        DepartmentsFile, read_yaml(dep_file, problems), str(dep_file), problems
    )
    ladder_path = root / "ladder.yaml"
    ladder = LadderFile()
    if ladder_path.exists():
        ladder = _validate(LadderFile, read_yaml(ladder_path, problems), str(ladder_path), problems)
    office_path = root / "office.yaml"
    office = OfficeSpec()
    if office_path.exists():
        office = _validate(OfficeSpec, read_yaml(office_path, problems), str(office_path),
                           problems)
    registry = _registry(departments, str(dep_file), problems) if departments else None
    plans = _read_plans(root, registry, problems)
    if problems:
        raise ConfigError(problems)
    assert registry is not None and ladder is not None and office is not None
    return PlanConfig(registry, plans, ladder, {**DEFAULT_DEADLINES, **ladder.deadlines}, office)


def _read_plans(root: Path, registry: Registry | None, problems: list[Problem]) -> list[Any]:
    files = sorted((root / "plans").glob("*.yaml"))
    if not files:
        problems.append(Problem(str(root / "plans"), "", "no plan file (plans/*.yaml)"))
    plans: list[tuple[str, PlanFile]] = []
    seen_keys: dict[str, str] = {}
    for path in files:
        plan = _validate(PlanFile, read_yaml(path, problems), str(path), problems)
        if plan is None:
            continue
        if plan.plan.key in seen_keys:
            problems.append(
                Problem(str(path), "plan.key", f"duplicate plan key {plan.plan.key!r}, "
                        f"also in {seen_keys[plan.plan.key]}")
            )
        seen_keys[plan.plan.key] = str(path)
        if registry is not None:
            _check_plan(plan, registry, str(path), problems)
        plans.append((str(path), plan))
    return plans


def _registry(spec: DepartmentsFile, file: str, problems: list[Problem]) -> Registry:
    aliases: dict[str, str] = {}
    _unique([j.code for j in spec.jurisdictions], "jurisdictions", "code", file, problems)
    _unique([d.code for d in spec.departments], "departments", "code", file, problems)
    if sum(j.kind == "city" for j in spec.jurisdictions) != 1:
        problems.append(Problem(file, "jurisdictions", "exactly one jurisdiction of kind city"))
    for i, dep in enumerate(spec.departments):
        for form in {dep.name, dep.short, dep.code, *dep.aliases}:
            other = aliases.get(form)
            if other and other != dep.code:
                problems.append(
                    Problem(file, f"departments[{i}].aliases",
                            f"{form!r} already names department {other!r}")
                )
            aliases[form] = dep.code
    registry = Registry(list(spec.jurisdictions), list(spec.departments), aliases)
    _check_bodies(registry, file, problems)
    return registry


def _check_bodies(registry: Registry, file: str, problems: list[Problem]) -> None:
    """Bodies hang off city departments that exist; every county and zone can answer for every
    city department with local counterparts (a body, a covering body or the fallback)."""
    city = {d.code: d for d in registry.city_departments}
    names: dict[str, str] = {}
    for i, j in enumerate(registry.jurisdictions):
        where = f"jurisdictions[{i}]"
        if j.kind == "city":
            if j.bodies or j.fallback:
                problems.append(Problem(file, f"{where}.bodies", "the city's departments are "
                                        "listed under departments:, not as bodies"))
            continue
        covered: dict[str, str] = {}
        for key, body in j.bodies.items():
            if key not in city:
                problems.append(Problem(file, f"{where}.bodies.{key}",
                                        f"unknown city department code {key!r}"))
            for other in body.covers:
                if other not in city:
                    problems.append(Problem(file, f"{where}.bodies.{key}.covers",
                                            f"unknown city department code {other!r}"))
                elif other in j.bodies or other in covered:
                    problems.append(Problem(file, f"{where}.bodies.{key}.covers",
                                            f"{other!r} already has a body in {j.name}"))
                covered[other] = key
            for form in {body.name, body.short or body.name, *body.aliases}:
                seen = names.get(form) or registry.aliases.get(form)
                if seen and seen != body_code(j.code, key):
                    problems.append(Problem(file, f"{where}.bodies.{key}",
                                            f"{form!r} already names {seen!r}"))
                names[form] = body_code(j.code, key)
        if j.fallback is not None and j.fallback not in j.bodies:
            problems.append(Problem(file, f"{where}.fallback",
                                    f"{j.fallback!r} is not one of {j.name}'s bodies"))
        missing = [d.code for d in registry.city_departments
                   if d.county and registry.answering_body(j, d.code) is None]
        if missing:
            problems.append(Problem(
                file, f"{where}.bodies",
                f"{j.name} has no body for {', '.join(missing)} and no fallback: list the body "
                f"or set fallback to the department whose body answers for it here"))


def _unique(values: list[Any], where: str, name: str, file: str, problems: list[Problem]) -> None:
    seen: set[Any] = set()
    for i, value in enumerate(values):
        if value in seen:
            problems.append(Problem(file, f"{where}[{i}].{name}", f"duplicate {name} {value!r}"))
        seen.add(value)


def review_problems(plan: PlanFile, file: str) -> list[Problem]:
    """What `plan check` and `plan activate` refuse in a draft: fields still to fill in."""
    return [
        Problem(file, f"plan.{name}",
                f"未审核的草稿：请填写{FIELD_ZH[name]}（仍为“{TODO}”） / unreviewed draft: fill in")
        for name in plan.plan.todo_fields()
    ]


FIELD_ZH = {"doc_no": "文号", "issued": "印发日期", "ladder_from": "催办起算日期"}


def _check_plan(plan: PlanFile, registry: Registry, file: str, problems: list[Problem]) -> None:
    if plan.plan.ends < plan.plan.starts:
        problems.append(Problem(file, "plan.ends", "ends before the plan starts"))
    if not plan.plan.draft:
        for problem in review_problems(plan, file):
            problems.append(Problem(problem.file, problem.path,
                                    f"{problem.message} (or mark the plan draft: true)"))
    _unique([a.no for a in plan.actions], "actions", "no", file, problems)
    keys: set[str] = set()
    for i, action in enumerate(plan.actions):
        where = f"actions[{i}]"
        for j, written in enumerate(action.departments):
            if registry.resolve(written) is None:
                problems.append(
                    Problem(file, f"{where}.departments[{j}]", f"unknown department {written!r}")
                )
        items = [("targets", t.key, t.owner) for t in action.targets]
        items += [("milestones", m.key, m.owner) for m in action.milestones]
        counters = {"targets": 0, "milestones": 0}
        for kind, key, owner in items:
            path = f"{where}.{kind}[{counters[kind]}]"
            counters[kind] += 1
            if key in keys:
                problems.append(Problem(file, f"{path}.key", f"duplicate key {key!r}"))
            keys.add(key)
            if owner is not None and registry.resolve(owner) is None:
                problems.append(Problem(file, f"{path}.owner", f"unknown department {owner!r}"))
        _check_targets(action, where, file, problems, registry, plan.plan.year)


def _check_targets(
    action: ActionSpec, where: str, file: str, problems: list[Problem], registry: Registry,
    plan_year: int,
) -> None:
    from duban.plan.allocations import allocation_problem

    local = {j.code: j.name for j in registry.jurisdictions if j.kind != "city"}
    for k, target in enumerate(action.targets):
        path = f"{where}.targets[{k}]"
        if (target.op == "range") != isinstance(target.value, list):
            problems.append(
                Problem(file, f"{path}.value", "op range needs [low, high]; other ops one number")
            )
        if target.unit == "%" and not 0 <= target.low <= 100:
            problems.append(Problem(file, f"{path}.value", f"{target.low} is not a percentage"))
        if target.parts is not None and target.rollup == "sum":
            problems.append(Problem(file, f"{path}.parts", "parts (numerator and denominator) are "
                                    "for a rate or an average, not a summed count"))
        if target.baseline is not None and not (
                date(plan_year, 1, 1) <= target.baseline.on <= date(plan_year, 12, 31)):
            problems.append(Problem(file, f"{path}.baseline.on",
                                    f"{target.baseline.on} is outside the plan year {plan_year}"))
        if target.allocations:
            fault = allocation_problem(target.high or target.low, target.rollup, target.unit,
                                       target.allocations, local)
            if fault:
                problems.append(Problem(file, f"{path}.allocations", fault))


def describe_problems(problems: list[Problem]) -> str:
    return "\n".join(f"  - {p}" for p in problems)


def check_plan_data(
    data: Any, registry: Registry, file: str
) -> tuple[PlanFile | None, list[Problem]]:
    """The checks `plan check` applies to one plan file, on data read from elsewhere (a
    workbook): shape, cross-references, and 待填写 fields. Problems carry field paths."""
    problems: list[Problem] = []
    plan = _validate(PlanFile, data, file, problems)
    if plan is not None:
        _check_plan(plan, registry, file, problems)
        if plan.plan.draft:  # a non-draft's 待填写 fields are already named by _check_plan
            problems += review_problems(plan, file)
    return (None if problems else plan), problems
