"""The simulation's report: markdown, a PNG chart and the figures as JSON.

The chart is written as PNG bytes with zlib (no plotting dependency): open, overdue and closed
items per day as lines, messages per day as bars below, weekends and holidays shaded.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from collections import Counter
from datetime import date
from pathlib import Path

from tools.simulate.checks import Checker
from tools.simulate.run import Outcome

WIDTH, TOP, BOTTOM, MARGIN = 1000, 300, 120, 40
COLOURS = {"open": (52, 101, 164), "overdue": (204, 0, 0), "closed": (78, 154, 6),
           "messages": (117, 80, 123), "grid": (220, 220, 220), "off": (245, 245, 238),
           "axis": (60, 60, 60)}


def figures(outcome: Outcome, checker: Checker, window: tuple[date, date], wall: float) -> dict:
    days = outcome.days
    last = days[-1].states if days else {}
    return {
        "window": [window[0].isoformat(), window[1].isoformat()],
        "days": len(days), "working_days": sum(d.workday for d in days),
        "flow_runs": outcome.runs, "messages": sum(d.messages for d in days),
        "reports": days[-1].reports if days else 0,
        "violations": len(checker.violations),
        "violations_by_rule": dict(Counter(v.rule for v in checker.violations)),
        "wall_seconds": round(wall, 1),
        "simulation_seconds": round(outcome.wall, 1),
        "seconds_per_working_day": round(_mean([d.seconds for d in days if d.workday]), 1),
        "seconds_per_day_off": round(_mean([d.seconds for d in days if not d.workday]), 1),
        # where a working day's time went, on average: the flows, the people, the checks
        "seconds_per_working_day_by_phase": {
            phase: round(_mean([d.phases.get(phase, 0.0) for d in days if d.workday]), 2)
            for phase in ("flows", "people", "checks")},
        "per_day": [{"day": d.day.isoformat(), "workday": d.workday, "messages": d.messages,
                     "seconds": round(d.seconds, 2), **d.phases} for d in days],
        "final_states": last, "events": outcome.events,
        "behaviours": dict(outcome.behaviours), "faults": outcome.faults,
        "interrupted": outcome.interrupted.isoformat() if outcome.interrupted else None,
        # the machine's load (1/5/15 min) when the run began and ended: wall time depends on it
        "load_average": {"start": list(outcome.load_start),
                         "end": [round(x, 2) for x in os.getloadavg()]},
    }


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def summary(outcome: Outcome, checker: Checker, window, wall: float) -> list[str]:
    f = figures(outcome, checker, window, wall)
    lines = [
        f"模拟 / simulated {f['window'][0]} … {f['window'][1]}: {f['days']} days "
        f"({f['working_days']} working), {f['flow_runs']} flow runs, {f['messages']} messages, "
        f"{f['reports']} reports, wall {f['wall_seconds']} s",
        f"events: {f['events']}", f"behaviours: {f['behaviours']}", f"faults: {f['faults']}",
    ]
    lines += [f"note: {n}" for n in outcome.notes[:10]]
    if checker.violations:
        first = checker.violations[0]
        lines.append(f"违反 / VIOLATIONS {len(checker.violations)} {f['violations_by_rule']}; "
                     f"first: {first.line()}")
        lines += ["  " + v.line() for v in checker.violations[:20]]
    else:
        lines.append("不变量全部成立 / 0 violations")
    return lines


def write_report(folder: Path, outcome: Outcome, checker: Checker, window, seed: int,
                 quick: bool, wall: float, partial: str = "") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    f = figures(outcome, checker, window, wall)
    f["seed"], f["quick"], f["partial"] = seed, quick, partial
    (folder / "figures.json").write_text(json.dumps(f, ensure_ascii=False, indent=1) + "\n",
                                         encoding="utf-8")
    (folder / "chart.png").write_bytes(chart(outcome))
    (folder / "report.md").write_text(markdown(f, outcome, checker), encoding="utf-8")


def markdown(f: dict, outcome: Outcome, checker: Checker) -> str:
    kind = "quick (one quarter)" if f["quick"] else "full plan year"
    if f["interrupted"]:
        kind = f"INTERRUPTED on {f['interrupted']}: only the days before it were simulated"
    elif f.get("partial"):
        kind = f["partial"]
    lines = [
        f"# Simulation report: {f['window'][0]} … {f['window'][1]} ({kind}, seed {f['seed']})",
        "",
        "Made by `python -m tools.simulate` (tools/simulate/): the real Prefect server, the real "
        "daily flows with each simulated day as as-of, the real report page, local DingTalk-like "
        "and SMTP receivers, simulated departments acting through the page and the CLI.",
        "",
        "| figure | value |", "|---|---|",
        f"| days simulated | {f['days']} ({f['working_days']} working days) |",
        f"| flow runs | {f['flow_runs']} |",
        f"| messages received | {f['messages']} |",
        f"| reports in the ledger | {f['reports']} |",
        f"| item events (ledger / in Prefect's feed) | {f['events'].get('ledger')} / "
        f"{f['events'].get('in_feed')} |",
        f"| **violations** | **{f['violations']}** |",
        f"| wall time | {f['wall_seconds']} s ({f['seconds_per_working_day']} s per working "
        f"day, {f['seconds_per_day_off']} s per day off) |",
        "| a working day's seconds: flows / departments and office / checks | "
        + " / ".join(str(v) for v in f["seconds_per_working_day_by_phase"].values()) + " |",
        f"| load average (1/5/15 min) at start / end | "
        f"{' / '.join(map(str, f['load_average']['start']))} — "
        f"{' / '.join(map(str, f['load_average']['end']))} (2 cores) |",
        "", "![open, overdue and closed items and messages per day](chart.png)", "",
        "Chart: open (blue), overdue (red), closed (green) items per day; messages per day as "
        "purple bars below; days off shaded.", "",
        "## Faults", "", *[f"- {k}: {v}" for k, v in f["faults"].items()], "",
        "## Behaviours", "", "| what happened | count |", "|---|---|",
        *[f"| {k} | {v} |" for k, v in sorted(f["behaviours"].items())], "",
        "## Invariants", "",
        "Checked every simulated day (tools/simulate/checks.py): no message on a non-working "
        "day; at most one digest per recipient per day (manual urging apart); every owed "
        "reminder delivered once or visibly undelivered and retried; nothing closed without a "
        "report; the board's and the Excel's counts equal the ledger's; every ledger event in "
        "Prefect's event feed exactly once; every deadline on a working day; no token in any log.",
        "",
    ]
    if checker.violations:
        lines += [f"First violation: `{checker.violations[0].line()}`", "",
                  "| rule | count |", "|---|---|",
                  *[f"| {k} | {v} |" for k, v in f["violations_by_rule"].items()], ""]
        lines += ["```", *[v.line() for v in checker.violations[:40]], "```", ""]
    else:
        lines += ["None violated.", ""]
    if outcome.notes:
        lines += ["## Notes", "", *[f"- {n}" for n in outcome.notes[:30]], ""]
    return "\n".join(lines)


# -- PNG ------------------------------------------------------------------------------------


def chart(outcome: Outcome) -> bytes:
    days = outcome.days
    n = max(len(days), 1)
    height = TOP + BOTTOM + 3 * MARGIN
    px = [[(255, 255, 255)] * WIDTH for _ in range(height)]
    inner = WIDTH - 2 * MARGIN
    x = [MARGIN + round(i * (inner - 1) / max(n - 1, 1)) for i in range(n)]
    step = max(1, inner // n)
    series = {
        "open": [sum(v for k, v in d.states.items() if k not in ("done", "done_late"))
                 for d in days],
        "overdue": [d.states.get("overdue", 0) for d in days],
        "closed": [d.states.get("done", 0) + d.states.get("done_late", 0) for d in days],
    }
    top = max([1, *(max(v, default=0) for v in series.values())])
    most = max([1, *(d.messages for d in days)])
    lines_base, bars_base = MARGIN + TOP, 2 * MARGIN + TOP + BOTTOM
    for i, d in enumerate(days):
        if not d.workday:
            _rect(px, x[i], MARGIN, x[i] + step, bars_base, COLOURS["off"])
    for k in range(5):
        _rect(px, MARGIN, lines_base - k * TOP // 4, WIDTH - MARGIN,
              lines_base - k * TOP // 4 + 1, COLOURS["grid"])
    for i, d in enumerate(days):
        h = round(d.messages * BOTTOM / most)
        _rect(px, x[i], bars_base - h, x[i] + max(step - 1, 1), bars_base, COLOURS["messages"])
    for name, values in series.items():
        points = [(x[i], lines_base - round(v * TOP / top)) for i, v in enumerate(values)]
        for a, b in zip(points, points[1:], strict=False):
            _line(px, a, b, COLOURS[name])
    for base in (lines_base, bars_base):
        _rect(px, MARGIN, base, WIDTH - MARGIN, base + 2, COLOURS["axis"])
    _rect(px, MARGIN - 2, MARGIN, MARGIN, bars_base, COLOURS["axis"])
    for k, name in enumerate(("open", "overdue", "closed", "messages")):
        _rect(px, MARGIN + k * 30, 12, MARGIN + k * 30 + 20, 24, COLOURS[name])
    _axis_figures(px, days, x, top, most, lines_base, bars_base)
    return _png(px)


def _axis_figures(px, days, x: list[int], top: int, most: int, lines_base: int,
                  bars_base: int) -> None:
    """Item counts at the grid lines, the most messages in a day at the bars' top, and each
    month ("2023-07") under the day it begins on."""
    for k in range(5):
        _text(px, 2, lines_base - k * TOP // 4 - 5, str(round(top * k / 4)))
    _text(px, 2, bars_base - BOTTOM - 5, str(most))
    for i, d in enumerate(days):
        if d.day.day == 1 or i == 0:
            _rect(px, x[i], bars_base + 2, x[i] + 1, bars_base + 6, COLOURS["axis"])
            _text(px, x[i], bars_base + 8, d.day.strftime("%Y-%m"))


# 3x5 pixel figures, rows top to bottom, drawn at twice the size
GLYPHS = {
    "0": ("111", "101", "101", "101", "111"), "1": ("010", "110", "010", "010", "111"),
    "2": ("111", "001", "111", "100", "111"), "3": ("111", "001", "111", "001", "111"),
    "4": ("101", "101", "111", "001", "001"), "5": ("111", "100", "111", "001", "111"),
    "6": ("111", "100", "111", "101", "111"), "7": ("111", "001", "010", "010", "010"),
    "8": ("111", "101", "111", "101", "111"), "9": ("111", "101", "111", "001", "111"),
    "-": ("000", "000", "111", "000", "000"),
}


def _text(px, x0: int, y0: int, text: str, scale: int = 2) -> None:
    for n, char in enumerate(text):
        for row, bits in enumerate(GLYPHS.get(char, ("000",) * 5)):
            for col, bit in enumerate(bits):
                if bit == "1":
                    left, upper = x0 + (n * 4 + col) * scale, y0 + row * scale
                    _rect(px, left, upper, left + scale, upper + scale, COLOURS["axis"])


def _rect(px, x0: int, y0: int, x1: int, y1: int, colour) -> None:
    for y in range(max(0, y0), min(len(px), y1)):
        row = px[y]
        for xx in range(max(0, x0), min(len(row), x1)):
            row[xx] = colour


def _line(px, a, b, colour) -> None:
    (x0, y0), (x1, y1) = a, b
    steps = max(abs(x1 - x0), abs(y1 - y0), 1)
    for s in range(steps + 1):
        xx = x0 + (x1 - x0) * s // steps
        yy = y0 + (y1 - y0) * s // steps
        _rect(px, xx - 1, yy - 1, xx + 2, yy + 2, colour)


def _png(px) -> bytes:
    height, width = len(px), len(px[0])
    raw = b"".join(b"\x00" + bytes(c for p in row for c in p) for row in px)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2,
                                                              0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))
