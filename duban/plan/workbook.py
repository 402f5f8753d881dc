"""The plan as a spreadsheet (任务分解表) an office fills in, instead of YAML.

Sheets: 填写说明 (instructions), 方案 (the plan's identity), 行动 (actions),
指标 (quantified targets), 任务 (milestones), 单位名录 (the departments and counties the other
sheets may name; not read back).
`write_book` writes a plan (or a blank template); `read_book` reads one back through the same checks
as `duban plan check`, each problem named by sheet, row and column. Export then import gives the
same PlanFile.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from duban.plan.config import TODO, PlanFile, Problem, Registry, check_plan_data

OPS = {"at_least": "不少于", "more_than": "超过", "exactly": "等于", "range": "区间",
       "full_coverage": "全覆盖"}
DEADLINES = {"year_end": "年底前", "within_year": "年内", "monthly": "每月", "through_year": "全年"}
ROLLUPS = {"sum": "求和", "average": "平均", "min": "取最小", "all_covered": "全部覆盖"}
PERIODS = {"monthly": "每月", "quarterly": "每季度"}
SCOPES = {"all": "全部区县和功能区", "counties": "仅县（市、区）"}
YES, NO = "是", "否"
YEAR_END = "年底"
SEPARATORS = re.compile(r"[、，,;；\n]+")


@dataclass(frozen=True)
class Column:
    header: str
    field: str
    kind: str = "text"  # text | int | num | bool | list | alloc | date | due | choice
    choices: dict[str, str] | None = None
    width: int = 14
    optional: bool = False  # a column added later: a workbook without it still imports


PLAN_ROWS = [
    Column("方案编码（小写字母、数字、连字符，如 taimin-2026-3）", "key"),
    Column("方案名称", "title"), Column("文号", "doc_no"), Column("印发单位", "issuer"),
    Column("印发日期", "issued", "date"), Column("年度", "year", "int"),
    Column("开始日期（首个报送周期从此开始）", "starts", "date"),
    Column("结束日期", "ends", "date"),
    Column("草稿（是：载入后待 duban plan activate 启用）", "draft", "bool"),
    Column("催办起算日期（可空；此前已逾期的事项自该日起催办）", "ladder_from", "date"),
    Column("时区", "timezone"),
    Column("审核销号（是：单位报送办结后须经办公室销号）", "review_required", "bool"),
]
ACTION_COLUMNS = [
    Column("序号", "no", "int", width=6), Column("行动名称", "title", width=24),
    Column("条款原文", "clause", width=60),
    Column("责任单位（牵头单位在前，用“、”分隔）", "departments", "list", width=40),
]
TARGET_COLUMNS = [
    Column("行动序号", "action", "int", width=8), Column("指标编码", "key", width=24),
    Column("指标名称", "title", width=24), Column("计量内容", "measure", width=24),
    Column("比较方式", "op", "choice", OPS), Column("目标值", "value", "num", width=10),
    Column("目标上限（区间才填）", "value_high", "num", width=10), Column("单位", "unit", width=8),
    Column("完成时限", "deadline", "choice", DEADLINES),
    Column("汇总方式", "rollup", "choice", ROLLUPS),
    Column("累计数", "cumulative", "bool", width=8),
    Column("报送周期", "period", "choice", PERIODS),
    Column("区县分别报送", "local", "bool", width=8),
    Column("责任单位（空：牵头单位）", "owner", width=18), Column("原文", "source", width=40),
    Column("任务分解（区县代码=数值，用“；”分隔）", "allocations", "alloc", width=30),
    Column("分子（比率、平均数按分子分母报送时填，如 已探访人数）", "numerator", width=24,
           optional=True),
    Column("分母（如 应探访人数）", "denominator", width=20, optional=True),
    Column("报送范围", "scope", "choice", SCOPES, width=14, optional=True),
    Column("市级单位同时报送（各级）", "city_reports", "bool", width=10, optional=True),
    Column("基期日期（可空：自年初起算）", "baseline_on", "date", width=12, optional=True),
    Column("基期数值", "baseline_value", "num", width=10, optional=True),
]
MILESTONE_COLUMNS = [
    Column("行动序号", "action", "int", width=8), Column("任务编码", "key", width=24),
    Column("任务内容", "title", width=40), Column("成果形式", "deliverable", width=30),
    Column("责任单位（空：牵头单位）", "owner", width=18),
    Column("完成时限（“年底”或日期）", "due", "due", width=14),
]
SHEETS = {"plan": "方案", "actions": "行动", "targets": "指标", "milestones": "任务"}
INSTRUCTIONS = [
    "任务分解表填写说明",
    "",
    "本表由 duban plan template 生成，填好后运行 duban plan import 本文件.xlsx 导入；导入"
    "时逐项检查，出错处按“工作表 第几行 第几列”列出，全部改正后才写入配置。",
    "",
    "【方案】一行一项：方案编码（英文小写，唯一）、名称、文号、印发单位、印发日期、年度、"
    "开始与结束日期。",
    "  文号、印发日期尚未确定时保留“待填写”：导入、检查和启用都会提示，须填写后才能启用。",
    "  草稿填“是”：载入后不催办，待审核后运行 duban plan activate 方案编码 启用。",
    "  催办起算日期：方案启动时已有事项逾期的，填写从哪天起开始催办；首轮向每个单位只发一"
    "条启动通知。",
    "【行动】每项行动一行：序号（1、2、3…）、行动名称、条款原文（照文件原文）、责任单位（"
    "牵头单位写在第一个，用“、”分隔）。",
    "【指标】每个量化指标一行，“行动序号”写所属行动的序号。比较方式：不少于、超过、等于、"
    "区间（10—15 填目标值 10、上限 15）、全覆盖（目标值填 100）。",
    "  完成时限：年底前、年内、每月、全年；汇总方式（区县数据如何汇成全市数）：求和、平均"
    "、取最小、全部覆盖。",
    "  报送周期：每月或每季度；区县分别报送：是（各区县对口单位报各自数据）或否（只由市级"
    "单位报送）。",
    "  任务分解（可空）：如 {county_a}=300；{county_b}=400（区县代码见“单位名录”），求和类指标各"
    "区县之和须等于目标值。",
    "  分子、分母（可空）：比率或平均数（如月探访率＝已探访人数÷应探访人数）按分子、分母报送，"
    "全市数＝各单位分子之和÷分母之和；报送范围：文件写“县（市、区）”的选“仅县（市、区）”，"
    "功能区不报；市级单位同时报送：“各级”指标（如各级民政部门）选“是”。",
    "  基期日期、基期数值（可空）：进度预期自基期起算；空则自方案年度1月1日从0起算。",
    "【任务】每项非量化任务一行：行动序号、任务编码、任务内容、成果形式、责任单位（空则为"
    "牵头单位）、完成时限（“年底”或具体日期）。",
    "",
    "单位名称须为“单位名录”中的全称、简称或其他写法之一；新单位请先由管理员登记到 departm"
    "ents.yaml。",
    "编码（方案、指标、任务）只用小写英文字母、数字和连字符，同一方案内不得重复。",
    "示例（指标）：2 | home-care-beds | 家庭养老床位 | 床位数 | 不少于 | 500 | | 张 | 年内 | "
    "求和 | 否 | 每月 | 是 | {lead} | （文件原文，如“发展家庭养老床位不少于 500 张”） |",
]


# ---- writing ----------------------------------------------------------------------------------


def instructions(registry: Registry) -> list[str]:
    """The guide sheet, its examples drawn from the office's own registry (no code names a
    city, a county or a bureau)."""
    counties = [j.code for j in registry.jurisdictions if j.kind != "city"] + ["county-a",
                                                                                "county-b"]
    lead = registry.city_departments[0].short if registry.city_departments else "牵头单位"
    return [line.format(county_a=counties[0], county_b=counties[1], lead=lead)
            for line in INSTRUCTIONS]


def write_book(path: Path, registry: Registry, plan: PlanFile | None = None) -> Path:
    """Write `plan` as a workbook, or a blank template (待填写 where the office must fill in)."""
    from openpyxl import Workbook

    book = Workbook()
    guide = book.active
    guide.title = "填写说明"
    for line in instructions(registry):
        guide.append([line])
    guide.column_dimensions["A"].width = 120
    _plan_sheet(book.create_sheet(SHEETS["plan"]), plan)
    actions = plan.actions if plan else []
    _rows(book.create_sheet(SHEETS["actions"]), ACTION_COLUMNS,
          [a.model_dump() for a in actions])
    _rows(book.create_sheet(SHEETS["targets"]), TARGET_COLUMNS,
          [{**_target_row(t.model_dump()), "action": a.no} for a in actions for t in a.targets])
    _rows(book.create_sheet(SHEETS["milestones"]), MILESTONE_COLUMNS,
          [{**m.model_dump(), "action": a.no} for a in actions for m in a.milestones])
    _registry_sheet(book.create_sheet("单位名录"), registry)
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


def _target_row(values: dict[str, Any]) -> dict[str, Any]:
    parts, baseline = values.pop("parts", None), values.pop("baseline", None)
    if parts:
        values["numerator"], values["denominator"] = parts["numerator"], parts["denominator"]
    if baseline:
        values["baseline_on"], values["baseline_value"] = baseline["on"], baseline["value"]
    value = values["value"]
    if isinstance(value, list):
        values["value"], values["value_high"] = value
    return values


def _plan_sheet(sheet: Any, plan: PlanFile | None) -> None:
    values = plan.plan.model_dump() if plan else {
        "doc_no": TODO, "issued": TODO, "draft": True, "timezone": "Asia/Shanghai",
        "review_required": True}
    _header(sheet, ["项目", "内容"], [60, 50])
    for row, column in enumerate(PLAN_ROWS, 2):
        sheet.cell(row=row, column=1, value=column.header)
        _put(sheet.cell(row=row, column=2), column, values.get(column.field))


def _rows(sheet: Any, columns: list[Column], rows: list[dict[str, Any]]) -> None:
    from openpyxl.worksheet.datavalidation import DataValidation

    _header(sheet, [c.header for c in columns], [c.width for c in columns])
    for r, values in enumerate(rows, 2):
        for c, column in enumerate(columns, 1):
            _put(sheet.cell(row=r, column=c), column, values.get(column.field))
    for c, column in enumerate(columns, 1):
        labels = list(column.choices.values()) if column.choices else (
            [YES, NO] if column.kind == "bool" else None)
        if labels:
            rule = DataValidation(type="list", formula1='"' + ",".join(labels) + '"',
                                  allow_blank=True)
            sheet.add_data_validation(rule)
            letter = sheet.cell(row=1, column=c).column_letter
            rule.add(f"{letter}2:{letter}1000")
    sheet.freeze_panes = "A2"


def _header(sheet: Any, headers: list[str], widths: list[int]) -> None:
    from openpyxl.styles import Alignment, Font, PatternFill

    for c, (header, width) in enumerate(zip(headers, widths, strict=True), 1):
        cell = sheet.cell(row=1, column=c, value=header)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="D9E1F2")
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        sheet.column_dimensions[cell.column_letter].width = width


def _put(cell: Any, column: Column, value: Any) -> None:
    """One value as the office reads it: Chinese choices, 是/否, 、-lists, dates as dates."""
    if value is None or value == "" or value == {} or value == []:
        return
    if column.kind == "choice" and column.choices:
        value = column.choices.get(value, value)
    elif column.kind == "bool":
        value = YES if value else NO
    elif column.kind == "list":
        value = "、".join(value)
    elif column.kind == "alloc":
        value = "；".join(f"{code}={_num(v)}" for code, v in value.items())
    elif column.kind == "due" and value == "year_end":
        value = YEAR_END
    cell.value = value
    if isinstance(value, date):
        cell.number_format = "yyyy-mm-dd"


def _num(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _registry_sheet(sheet: Any, registry: Registry) -> None:
    _header(sheet, ["代码", "全称", "简称", "其他写法", "区县对口单位"], [10, 30, 20, 40, 20])
    for dep in registry.city_departments:
        sheet.append([dep.code, dep.name, dep.short, "、".join(dep.aliases), dep.county or ""])
    sheet.append([])
    sheet.append(["区县代码", "名称", "类型"])
    kinds = {"city": "市", "county": "县（市、区）", "zone": "功能区"}
    for j in registry.jurisdictions:
        sheet.append([j.code, j.name, kinds[j.kind]])
    sheet.append([])
    sheet.append(["单位代码", "区县单位全称", "对口市级单位代码", "兼管", "其他写法"])
    city = {d.code: d.name for d in registry.city_departments}
    for body in registry.bodies():
        spec = body.jurisdiction.bodies[body.city_code]
        fallback = "（本区县无对口单位的事项由其承担）" if (
            body.jurisdiction.fallback == body.city_code) else ""
        sheet.append([body.code, body.name, body.city_code,
                      "、".join(city.get(c, c) for c in spec.covers) + fallback,
                      "、".join(body.aliases)])


# ---- reading ----------------------------------------------------------------------------------


class _Reader:
    """Turns cells into the plan file's data, remembering which cell each field came from."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []
        self.where: dict[str, str] = {}  # field path -> "sheet 第 r 行 X 列（header）"

    def place(self, sheet: str, row: int, col: int, header: str) -> str:
        from openpyxl.utils import get_column_letter

        return f"{sheet} 第{row}行 {get_column_letter(col)}列（{header}）"

    def value(self, raw: Any, column: Column, at: str) -> Any:
        """The field's value, or None for an empty cell; a bad value is a problem here."""
        if isinstance(raw, str):
            raw = raw.strip()
        if raw is None or raw == "":
            return None
        try:
            return _convert(raw, column)
        except ValueError as exc:
            self.problems.append(Problem(self.file, at, str(exc)))
            return None


def _convert(raw: Any, column: Column) -> Any:
    kind = column.kind
    if kind == "choice" and column.choices:
        by_label = {label: code for code, label in column.choices.items()}
        if raw in by_label or raw in column.choices:
            return by_label.get(raw, raw)
        raise ValueError(f"“{raw}”不是可选值：{'、'.join(column.choices.values())}")
    if kind == "bool":
        if str(raw).lower() in (YES, "true", "1", "y", "yes"):
            return True
        if str(raw).lower() in (NO, "false", "0", "n", "no"):
            return False
        raise ValueError(f"“{raw}”：请填“{YES}”或“{NO}”")
    if kind in ("int", "num"):
        return _number(raw, integral=kind == "int")
    if kind == "list":
        return [part.strip() for part in SEPARATORS.split(str(raw)) if part.strip()]
    if kind == "alloc":
        return _allocations(str(raw))
    if kind in ("date", "due"):
        return _date(raw, allow_year_end=kind == "due")
    return str(raw) if not isinstance(raw, str) else raw


def _number(raw: Any, integral: bool) -> int | float:
    if isinstance(raw, bool):
        raise ValueError(f"“{raw}”不是数字")
    if isinstance(raw, int):
        return raw
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ValueError(f"“{raw}”不是数字") from None
    if value.is_integer() and (integral or isinstance(raw, str)):
        return int(value)
    if integral:
        raise ValueError(f"“{raw}”应为整数")
    return value


def _allocations(text: str) -> dict[str, int | float]:
    shares: dict[str, int | float] = {}
    for part in SEPARATORS.split(text):
        code, sep, value = part.strip().partition("=")
        if not part.strip():
            continue
        if not sep:
            raise ValueError(f"“{part}”：应写作 区县代码=数值，如 county=300")
        shares[code.strip()] = _number(value.strip(), integral=False)
    return shares


def _date(raw: Any, allow_year_end: bool) -> date | str:
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    text = str(raw)
    if text == TODO or (allow_year_end and text in (YEAR_END, "year_end")):
        return "year_end" if text in (YEAR_END, "year_end") else text
    try:
        return date.fromisoformat(text.replace("/", "-").replace(".", "-"))
    except ValueError:
        hint = f"“{YEAR_END}”或" if allow_year_end else ""
        raise ValueError(f"“{text}”：请填{hint}日期，如 2026-12-31") from None


def read_book(path: Path, registry: Registry) -> tuple[PlanFile | None, list[Problem]]:
    """Read a workbook back into a plan; every problem names its sheet, row and column."""
    from openpyxl import load_workbook

    file = str(path)
    try:
        book = load_workbook(path, data_only=True)
    except FileNotFoundError:
        return None, [Problem(file, "", "file not found")]
    except Exception as exc:  # a file openpyxl cannot read is the user's input, not a crash
        return None, [Problem(file, "", f"不是可读取的 Excel 文件 (.xlsx)：{type(exc).__name__}")]
    missing = [name for name in SHEETS.values() if name not in book.sheetnames]
    if missing:
        return None, [Problem(file, "", f"缺少工作表：{'、'.join(missing)}"
                                        "（请用 duban plan template 生成的表格填写）")]
    reader = _Reader(file)
    data = {"plan": _read_plan(book[SHEETS["plan"]], reader), "actions": []}
    _read_actions(book, reader, data["actions"])
    plan, problems = check_plan_data(data, registry, file)
    located = [_located(p, reader.where, file) for p in problems]
    seen = {p.path for p in reader.problems}  # a cell already refused is not "missing" as well
    problems = reader.problems + [p for p in located if p.path not in seen]
    return (None if problems else plan), problems


def _read_plan(sheet: Any, reader: _Reader) -> dict[str, Any]:
    values: dict[str, Any] = {}
    by_header = {c.header: c for c in PLAN_ROWS}
    for row in range(2, sheet.max_row + 1):
        label = sheet.cell(row=row, column=1).value
        column = by_header.get(str(label).strip()) if label else None
        if column is None:
            continue
        at = reader.place(sheet.title, row, 2, str(label))
        reader.where[f"plan.{column.field}"] = at
        value = reader.value(sheet.cell(row=row, column=2).value, column, at)
        if value is not None:
            values[column.field] = value
    reader.where.setdefault("plan", f"{sheet.title} 工作表")
    reader.where.setdefault("actions", f"{SHEETS['actions']} 工作表")
    return values


def _table(sheet: Any, columns: list[Column], reader: _Reader) -> list[tuple[int, dict, dict]]:
    """(row number, values, field -> cell) for every non-empty row, columns found by header."""
    headers = {str(sheet.cell(row=1, column=c).value or "").strip(): c
               for c in range(1, sheet.max_column + 1)}
    found = [(col, headers[col.header]) for col in columns if col.header in headers]
    for col in columns:
        if col.header not in headers and not col.optional:
            reader.problems.append(Problem(reader.file, f"{sheet.title} 第1行",
                                           f"缺少列“{col.header}”"))
    rows = []
    for r in range(2, sheet.max_row + 1):
        raw = {col.field: sheet.cell(row=r, column=c).value for col, c in found}
        if all(v is None or str(v).strip() == "" for v in raw.values()):
            continue
        cells = {col.field: reader.place(sheet.title, r, c, col.header) for col, c in found}
        values = {col.field: reader.value(raw[col.field], col, cells[col.field])
                  for col, _ in found}
        rows.append((r, {k: v for k, v in values.items() if v is not None}, cells))
    return rows


def _read_actions(book: Any, reader: _Reader, actions: list[dict[str, Any]]) -> None:
    index: dict[int, int] = {}
    for r, values, cells in _table(book[SHEETS["actions"]], ACTION_COLUMNS, reader):
        i = len(actions)
        actions.append({**values, "targets": [], "milestones": []})
        reader.where[f"actions[{i}]"] = f"{SHEETS['actions']} 第{r}行"
        for name, at in cells.items():
            reader.where[f"actions[{i}].{name}"] = at
        if isinstance(values.get("no"), int):
            index.setdefault(values["no"], i)
    for kind, columns in (("targets", TARGET_COLUMNS), ("milestones", MILESTONE_COLUMNS)):
        sheet = book[SHEETS[kind]]
        for r, values, cells in _table(sheet, columns, reader):
            no = values.pop("action", None)
            if no not in index:
                reader.problems.append(Problem(reader.file, cells.get("action", f"{sheet.title} "
                                               f"第{r}行"), f"行动序号“{no}”不在“行动”表中"))
                continue
            if "value_high" in values:
                values["value"] = [values.get("value"), values.pop("value_high")]
            if "numerator" in values or "denominator" in values:
                values["parts"] = {k: values.pop(k) for k in ("numerator", "denominator")
                                   if k in values}
            if "baseline_on" in values or "baseline_value" in values:
                values["baseline"] = {k: values.pop(f"baseline_{k}") for k in ("on", "value")
                                      if f"baseline_{k}" in values}
            items = actions[index[no]][kind]
            path = f"actions[{index[no]}].{kind}[{len(items)}]"
            items.append(values)
            reader.where[path] = f"{sheet.title} 第{r}行"
            for name, at in cells.items():
                reader.where[f"{path}.{'value' if name == 'value_high' else name}"] = (
                    cells["value"] if name == "value_high" and "value" in cells else at)


def _located(problem: Problem, where: dict[str, str], file: str) -> Problem:
    """Translate a field path (actions[2].targets[0].value) into the cell it came from."""
    path = problem.path
    while path and path not in where:
        shorter = re.sub(r"(\.[^.\[]+|\[\d+\])$", "", path)
        if shorter == path:
            break
        path = shorter
    message = "必填，不能为空" if problem.message == "Field required" else problem.message
    return Problem(file, where.get(path, problem.path), message)
