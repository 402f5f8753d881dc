"""Checking what a department entered, before anything touches the database (pure functions).

Each check returns the cleaned value or raises ReportInputError naming the field, in Chinese and
English.
"""

from __future__ import annotations

import math
import re
import unicodedata
from urllib.parse import urlsplit

from duban.plan.progress import Goal, num
from duban.reports.errors import ReportInputError

KINDS = ("done", "progress", "ack")
KIND_ZH = {"done": "办结", "progress": "进展", "ack": "签收"}
TEXT_LIMIT = 2000  # characters, for the note, problems, support needed and a correction reason
URL_LIMIT = 1000
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Bidirectional controls (U+202E RIGHT-TO-LEFT OVERRIDE and kin) make text display other than it
# reads ("gpj.exe" shown as "exe.jpg"); they are removed from everything a department types.
BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# A plain decimal as people write it: no exponent, no underscores, no inf/nan (Python's float()
# takes "1e308", "1_000" and "infinity"; a report does not). Thousands commas are dropped first.
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
VALUE_CEILING = 10.0  # default: a figure above 10 times its target is refused as implausible
ABSOLUTE_CEILING = 1e12
_KEY = re.compile(r"[\x21-\x7e]{1,128}")


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ReportInputError("kind", f"报送类型“{kind}”无效，应为办结、进展或签收",
                               f"kind {kind!r} is not one of done, progress, ack")
    return kind


def clean_text(text: str | None) -> str:
    """Text without bidirectional controls, trimmed."""
    return BIDI.sub("", text or "").strip()


def check_text(name: str, text: str | None, label: str) -> str:
    """Free text: at most TEXT_LIMIT characters, no control characters (PostgreSQL refuses NUL),
    bidirectional controls removed."""
    text = clean_text(text)
    if len(text) > TEXT_LIMIT:
        raise ReportInputError(name, f"{label}过长（{len(text)}字），最多{TEXT_LIMIT}字",
                               f"{name} is {len(text)} characters long; the limit is {TEXT_LIMIT}")
    if CONTROL.search(text):
        raise ReportInputError(name, f"{label}包含不可见的控制字符",
                               f"{name} contains control characters")
    return text


def check_key(key: str) -> str:
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise ReportInputError("idempotency_key", "提交编号无效（1—128个可见ASCII字符）",
                               "idempotency key must be 1-128 printable ASCII characters")
    return key


def parse_value(
    raw: float | int | str | None, goal: Goal | None, kind: str, ceiling: float = VALUE_CEILING
) -> float | None:
    """The indicator value as a number, checked against what the target allows: finite, not
    negative, a percentage within 0-100, a count whole, and at most `ceiling` times the target."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if goal is not None and kind != "ack":
            raise ReportInputError("value", f"请填写指标数值（单位：{goal.unit}）",
                                   f"value is required: this duty has a target in {goal.unit}")
        return None
    if kind == "ack":
        raise ReportInputError("value", "签收不填写数值", "an acknowledgement carries no value")
    if goal is None:
        raise ReportInputError("value", "此事项没有量化指标，请不要填写数值",
                               "this duty has no target: leave the value empty")
    value = _number(raw)
    if value < 0:
        raise ReportInputError("value", f"数值不能为负数（{num(value)}）",
                               f"value {num(value)} is negative")
    if goal.unit == "%" and value > 100:
        raise ReportInputError("value", f"百分比不能超过100（{num(value)}）",
                               f"value {num(value)} is a percentage above 100")
    if goal.is_count and not value.is_integer():
        raise ReportInputError("value", f"{goal.unit}数应为整数（{num(value)}）",
                               f"value {num(value)} must be a whole number of {goal.unit}")
    limit = min(max(goal.low, goal.high or 0.0, 1.0) * ceiling, ABSOLUTE_CEILING)
    if value > limit:
        raise ReportInputError(
            "value", f"数值{num(value)}{goal.unit}远超目标（{goal.text()}），请核对；如确实无误，"
            "请联系督办办公室", f"value {num(value)} is more than {num(ceiling)} times the target "
            f"({num(limit)} {goal.unit} at most): check it")
    return value


def parse_parts(
    numerator: float | int | str | None, denominator: float | int | str | None,
    value: float | int | str | None, goal: Goal | None, kind: str,
    labels: tuple[str, str] | None, required: bool = True,
) -> tuple[float, float, float] | None:
    """A rate's or an average's two parts (numerator, denominator) and the figure they make
    (numerator / denominator x100 for a %), or None when the target is not reported in parts.
    Both parts are required on such a target (except for an acknowledgement); the denominator is
    above 0, a rate's numerator at most its denominator; a value given beside them must agree.
    Not `required` (the owner's city-wide year-end check), the parts may be left out for the
    value itself."""
    given = [raw for raw in (numerator, denominator)
             if raw is not None and not (isinstance(raw, str) and not raw.strip())]
    if goal is None or not goal.parts or labels is None:
        if given:
            raise ReportInputError("numerator", "此指标不按分子、分母报送，请直接填写数值",
                                   "this target is not reported as numerator and denominator")
        return None
    if kind == "ack":
        if given:
            raise ReportInputError("numerator", "签收不填写数值", "an acknowledgement carries "
                                   "no value")
        return None
    if not given and not required:
        return None
    top_label, bottom_label = labels
    if len(given) < 2:
        missing = "denominator" if given and given[0] is numerator else "numerator"
        raise ReportInputError(missing, f"请分别填写{top_label}和{bottom_label}",
                               "a rate or an average is reported as numerator and denominator")
    top = _part("numerator", numerator, top_label)
    bottom = _part("denominator", denominator, bottom_label)
    if bottom <= 0:
        raise ReportInputError("denominator", f"{bottom_label}应大于0（{num(bottom)}）",
                               f"denominator {num(bottom)} must be greater than 0")
    if goal.unit == "%" and top > bottom:
        raise ReportInputError("numerator", f"{top_label}（{num(top)}）不能超过{bottom_label}"
                               f"（{num(bottom)}）", f"numerator {num(top)} is above the "
                               f"denominator {num(bottom)}: a rate is at most 100%")
    figure = round(top / bottom * goal.scale, 6)
    if value is not None and not (isinstance(value, str) and not value.strip()):
        stated = _number(value)
        if abs(stated - figure) > 0.01 * max(1.0, abs(figure)):
            raise ReportInputError("value", f"填写的数值{num(stated)}{goal.unit}与{top_label}÷"
                                   f"{bottom_label}（{num(round(figure, 2))}{goal.unit}）不一致",
                                   f"value {num(stated)} does not match numerator / denominator")
    return top, bottom, figure


def _part(name: str, raw: float | int | str | None, label: str) -> float:
    try:
        value = _number(raw if raw is not None else "")
    except ReportInputError:
        shown = str(raw)[:40]
        raise ReportInputError(name, f"{label}“{shown}”不是数字",
                               f"{name} {shown!r} is not a number") from None
    if value < 0:
        raise ReportInputError(name, f"{label}不能为负数（{num(value)}）",
                               f"{name} {num(value)} is negative")
    if value > ABSOLUTE_CEILING:
        raise ReportInputError(name, f"{label}过大（{num(value)}），请核对",
                               f"{name} {num(value)} is implausibly large")
    return value


def _number(raw: float | int | str) -> float:
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        value = float(raw)
    else:
        text = unicodedata.normalize("NFKC", str(raw)).strip().replace(",", "")
        value = float(text) if _DECIMAL.fullmatch(text) else math.nan
    if not math.isfinite(value):
        shown = str(raw)[:40]
        raise ReportInputError("value", f"“{shown}”不是数字", f"value {shown!r} is not a number")
    return value


def check_unit(raw: str | None, goal: Goal | None) -> str | None:
    """The target's unit; a unit given must be that one (full-width forms accepted)."""
    given = unicodedata.normalize("NFKC", raw or "").strip()
    if goal is None:
        if given:
            raise ReportInputError("unit", "此事项没有量化指标，请不要填写单位",
                                   "this duty has no target: leave the unit empty")
        return None
    if given and given != unicodedata.normalize("NFKC", goal.unit):
        raise ReportInputError("unit", f"单位“{given}”与指标单位“{goal.unit}”不符",
                               f"unit {given!r} does not match the target's unit {goal.unit!r}")
    return goal.unit


def check_link(url: str) -> str:
    url = url.strip()
    if BIDI.search(url):
        url = "\n"  # a link that hides its direction is no link: refused below
    parts = urlsplit(url)
    if (len(url) > URL_LIMIT or parts.scheme not in ("http", "https") or not parts.netloc
            or any(c.isspace() for c in url) or CONTROL.search(url)):
        raise ReportInputError("evidence", "佐证材料链接无效，应为 http:// 或 https:// 开头的网址",
                               "evidence link must be an http(s) URL of at most 1000 characters")
    return url
