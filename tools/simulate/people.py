"""Simulated departments and the office, seeded and repeatable, acting only through the real
interfaces: the report page over HTTP (links taken from the messages they received; each form's
CSRF token and nonce from its GET) and the duban CLI (`token issue`, `confirm`, `extension
approve/reject`, `remind`), run in this process with the simulated clock (tools/simulate/clock.py).

Personas (each department gets one, by seed):
  prompt      reports the day its first link arrives (before the deadline: on time)
  late        reports 1-6 working days after the deadline, from a link of that day's urging
  never       never reports (the ladder escalates to the office and the supervisors)
  ack         acknowledges (签收) from the first link, reports from the same link 2-4 days later
  extension   asks for an extension from the first link; the office approves or rejects it by CLI
              the next working day; then it reports after the (new) deadline passes or reaches it
  correct     reports below target from the page, corrects the value by `duban confirm
              --correct` the next working day
The office urges a department with overdue items by hand (`duban remind`) now and then.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date

import httpx
import typer.testing
from sqlalchemy import select
from typer.testing import CliRunner

from duban.calendar.clock import at_local
from duban.ledger.models import AccessToken, Department, Duty, Occurrence, Report, Target
from duban.reports.tokens import hash_token
from tools.simulate.receivers import Message

# typer's CliRunner builds the click command tree from the Typer app at every invoke (~0.1-0.2 s
# for duban's commands); the office here runs thousands of commands against the same app.
typer.testing._get_command = functools.cache(typer.testing._get_command)

PERSONAS = ("prompt", "late", "never", "ack", "extension", "correct")
WEIGHTS = (30, 20, 8, 14, 14, 14)
LINK = re.compile(r"https?://[^\s/]+(/[rd]/[A-Za-z0-9_-]+)")
FORM = re.compile(r"<form\b.*?</form>", re.S)
HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)"')
URGE_EVERY = 9  # working days between two manual urgings by the office


@dataclass
class Item:
    occurrence: int
    department: str
    due: date
    link: str  # the item's own report link (/r/...), minted from the department page
    goal: tuple[float, str, bool] | None  # (value, unit, reported in parts) of its target
    plan: str = ""  # what the persona decided
    on: date | None = None  # when to act
    report_id: int | None = None
    reported_on: date | None = None
    returned: bool = False
    page: str = ""  # the department's page (/d/...) from the latest message


@dataclass
class People:
    world: object
    seed: int
    log: object
    counts: Counter = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.ctx = self.world.ctx
        self.calendar = self.ctx.calendar
        self.http = httpx.Client(base_url=self.world.page_url, timeout=60)
        self.cli = CliRunner()
        with self.ctx.db.read() as s:
            codes = sorted(s.scalars(select(Department.code)))
        self.persona = {c: self.rng.choices(PERSONAS, WEIGHTS)[0] for c in codes}
        self.items: dict[int, Item] = {}
        self.cli_tokens: dict[str, str] = {}
        self.workdays_seen = 0
        self.extension_queue: list[Item] = []
        self.correction_queue: list[Item] = []
        self.checker = None

    # -- the day ----------------------------------------------------------------------------

    def before_chase(self, day: date) -> None:
        """09:00, before the daily run: nothing (the office's decisions come in the afternoon)."""

    def after_chase(self, day: date, received: list[Message]) -> None:
        self.world.clock.set(at_local(day, 14))
        if not self.calendar.is_workday(day):
            return
        self.workdays_seen += 1
        for message in received:
            for path in LINK.findall(message.body):
                self.consider(day, message.tag, path)
        for item in list(self.items.values()):
            if item.on is not None and item.on <= day:
                self.act(day, item)
        self.world.clock.set(at_local(day, 16))
        self.office(day)

    # -- departments ------------------------------------------------------------------------

    def consider(self, day: date, tag: str, path: str) -> None:
        """A link from a message: an item's own (/r/) or the department's page (/d/), whose
        list names every open item (each opened by a POST that mints the item's link)."""
        if path.startswith("/d/"):
            page = self.http.get(path)
            if page.status_code != 200:
                self.counts[f"department page refused ({page.status_code})"] += 1
                return
            for form in FORM.findall(page.text):
                occ = dict(HIDDEN.findall(form)).get("occurrence", "")
                if occ.isdigit():
                    self.consider_item(day, tag, self.facts_of(int(occ)), "", path)
            return
        self.consider_item(day, tag, self.facts(path), path, "")

    def consider_item(self, day: date, tag: str, facts, link: str, page: str) -> None:
        if facts is None or facts[1] != tag:
            return
        occ, code, due, goal = facts
        item = self.items.get(occ)
        if item is not None:
            if item.plan != "done":
                item.link = link or item.link  # a fresh link replaces a spent or older one
                item.page = page or item.page
            if item.plan == "report" and item.on is None:  # returned by the office: re-report
                item.on = day
            return
        item = self.items[occ] = Item(occ, code, due, link, goal, page=page)
        persona = self.persona[code]
        if persona == "prompt":
            item.plan, item.on = "report", day
        elif persona == "late":
            item.plan = "report"
            item.on = self.calendar.add_workdays(due, self.rng.randint(1, 6))
        elif persona == "never":
            item.plan = "never"
        elif persona == "ack":
            item.plan, item.on = "ack", day
        elif persona == "extension":
            item.plan, item.on = "extend", day
        elif persona == "correct":
            item.plan, item.on = ("below", day) if goal else ("report", day)

    def facts_of(self, occurrence: int):
        return self._facts(Occurrence.id == occurrence)

    def facts(self, path: str):
        return self._facts(AccessToken.token_hash == hash_token(path.rsplit("/", 1)[1]))

    def _facts(self, where):
        with self.ctx.db.read() as s:
            row = s.execute(
                select(Occurrence.id, Department.code, Occurrence.due_on, Target.value_low,
                       Target.value_high, Target.unit, Target.numerator_label)
                .outerjoin(AccessToken, AccessToken.occurrence_id == Occurrence.id)
                .join(Department, Occurrence.department_id == Department.id)
                .join(Duty, Occurrence.duty_id == Duty.id)
                .outerjoin(Target, Duty.target_id == Target.id)
                .where(where)).first()
        if row is None:
            return None
        occ, code, due, low, high, unit, parts = row
        goal = (high or low, unit, parts is not None) if low is not None else None
        return occ, code, due, goal

    def act(self, day: date, item: Item) -> None:
        item.on = None
        if item.plan == "report":
            item.plan = "done" if self.report(day, item, 1.0) else "report"
        elif item.plan == "below":
            if self.report(day, item, 0.4):
                item.plan = "done"
                self.correction_queue.append(item)
        elif item.plan == "ack":
            if self.post_form(item, "ack", {}):
                self.counts["acknowledged (page)"] += 1
                item.plan, item.on = "report", self.calendar.add_workdays(day,
                                                                          self.rng.randint(2, 4))
        elif item.plan == "extend":
            until = self.calendar.add_workdays(max(item.due, day), 7)
            if self.post_form(item, "extend", {"until": until.isoformat(),
                                               "reason": "模拟：数据核实中，申请延期"}):
                self.counts["extension requested (page)"] += 1
                self.extension_queue.append(item)
                item.plan = "waiting"

    def report(self, day: date, item: Item, share: float) -> bool:
        fields = {"note": "模拟报送：已按要求完成"}
        if item.goal is not None and item.goal[2]:  # a rate or an average: its two parts
            fields["numerator"], fields["denominator"] = _parts(item.goal, share)
        elif item.goal is not None:
            fields["value"] = _value(item.goal, share)
            fields["unit"] = item.goal[1]
        ok = self.post_form(item, "report", {"kind": "done", **fields})
        if ok:
            late = "late" if day > self.current_due(item) else "on time"
            again = " again after return" if item.returned else ""
            self.counts[f"reported {late} (page){again}"
                        + (" below target" if share < 1 else "")] += 1
            item.report_id = self.last_report(item.occurrence)
            item.reported_on = day
        return ok

    def current_due(self, item: Item) -> date:
        with self.ctx.db.read() as s:
            return s.scalar(select(Occurrence.due_on).where(Occurrence.id == item.occurrence))

    def last_report(self, occ: int) -> int | None:
        with self.ctx.db.read() as s:
            return s.scalar(select(Report.id).where(Report.occurrence_id == occ,
                                                    Report.kind != "ack")
                            .order_by(Report.id.desc()).limit(1))

    def post_form(self, item: Item, which: str, fields: dict[str, str]) -> bool:
        """GET the link's page, take the chosen form's hidden fields (csrf, nonce), POST it."""
        page = self.http.get(item.link) if item.link else None
        if page is None or page.status_code != 200 or "<form" not in page.text:
            if not self.mint(item):
                return False
            page = self.http.get(item.link)
        if page.status_code != 200:
            self.counts[f"page refused ({page.status_code})"] += 1
            return False
        form = _pick_form(page.text, which)
        if form is None:
            self.counts[f"no {which} form on the page"] += 1
            return False
        answer = self.http.post(item.link, data={**form, **fields})
        ok = answer.status_code == 200 and '<h1 class="ok">' in answer.text
        if not ok:
            self.counts[f"{which} not accepted ({answer.status_code})"] += 1
        return ok

    def mint(self, item: Item) -> bool:
        """Open the item from the department's page: POST its button, follow to /r/..."""
        if not item.page:
            self.counts["no link to open the item"] += 1
            return False
        page = self.http.get(item.page)
        for form in FORM.findall(page.text) if page.status_code == 200 else []:
            fields = dict(HIDDEN.findall(form))
            if fields.get("occurrence") == str(item.occurrence):
                answer = self.http.post(item.page, data=fields, follow_redirects=False)
                location = answer.headers.get("location", "")
                if answer.status_code == 303 and "/r/" in location:
                    item.link = "/r/" + location.rsplit("/r/", 1)[1]
                    self.counts["item opened from the department page"] += 1
                    return True
                self.counts[f"department page would not open the item ({answer.status_code})"] += 1
                return False
        self.counts["item not on the department page"] += 1
        return False

    # -- the CLI ----------------------------------------------------------------------------

    def duban(self, *args: str) -> tuple[int, str]:
        from cli.main import app

        with self.world.clock.frozen():
            result = self.cli.invoke(app, list(args))
        text = result.output
        with contextlib.suppress(ValueError):  # click without a separate stderr
            text += result.stderr
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            text += f" {type(result.exception).__name__}: {result.exception}"
        return result.exit_code, text

    def cli_token(self, code: str) -> str | None:
        if code not in self.cli_tokens:
            status, out = self.duban("token", "issue", code, "--purpose", "cli", "--days", "400")
            if status != 0:
                self.notes.append(f"token issue {code} failed: {out.strip()[-200:]}")
                return None
            self.cli_tokens[code] = out.strip().splitlines()[-1]
            if self.checker is not None:
                self.checker.tokens.add(self.cli_tokens[code])
        return self.cli_tokens[code]

    def correct(self, item: Item) -> None:
        token = self.cli_token(item.department)
        if token is None or item.report_id is None:
            return
        figure = (["--numerator", *_parts(item.goal, 1.0)[:1], "--denominator",
                   _parts(item.goal, 1.0)[1]] if item.goal[2]
                  else ["--value", _value(item.goal, 1.0), "--unit", item.goal[1]])
        status, out = self.duban("confirm", str(item.occurrence), *figure,
                                 "--correct", str(item.report_id), "--reason", "模拟：数值更正",
                                 "--token", token)
        key = "corrected (CLI)" if status == 0 else "correction refused (CLI)"
        self.counts[key] += 1
        if status != 0:
            self.notes.append(f"confirm --correct {item.occurrence}: {out.strip()[-200:]}")

    # -- the office -------------------------------------------------------------------------

    def office(self, day: date) -> None:
        waiting = {i.occurrence for i in self.correction_queue}
        for item in self.correction_queue:
            self.correct(item)
        self.correction_queue.clear()
        self.review(day, waiting)
        for item in self.extension_queue:
            self.decide(day, item)
        self.extension_queue.clear()
        if self.workdays_seen % URGE_EVERY == 0:
            self.urge(day)

    def decide(self, day: date, item: Item) -> None:
        status, out = self.duban("extension", "list", "--state", "pending", "--json")
        rows = json.loads(out or "[]") if status == 0 else []
        pending = [r for r in rows if r.get("occurrence_id") == item.occurrence]
        if not pending:
            self.notes.append(f"extension for {item.occurrence} not listed: {out.strip()[-200:]}")
            return
        approve = self.rng.random() < 0.65
        verb = "approve" if approve else "reject"
        status, out = self.duban("extension", verb, str(pending[0]["id"]), "--note",
                                 "模拟：办公室审批", "--by", "office:模拟")
        done = {"approve": "approved", "reject": "rejected"}[verb]
        self.counts[f"extension {done} (CLI)" if status == 0 else f"extension {verb} failed"] += 1
        item.plan = "report"
        due = self.current_due(item)
        item.on = max(self.calendar.add_workdays(day, 1),
                      due if approve else self.calendar.add_workdays(due, 2))

    def review(self, day: date, corrected_today: set[int]) -> None:
        """审核: what was reported before today (and not corrected today) is accepted, except
        about one in eight, returned once with a reason; the department reports again."""
        status, out = self.duban("review", "--list", "--json")
        if status != 0:
            if "No such command" not in out:
                self.notes.append(f"review --list on {day}: {out.strip()[-200:]}")
            return
        accept, returned = [], []
        for row in json.loads(out or "[]"):
            occ = row.get("occurrence_id")
            item = self.items.get(occ)
            if occ in corrected_today or (item is not None and item.reported_on == day):
                continue
            if item is not None and not item.returned and self.rng.random() < 0.125:
                returned.append(item)
            else:
                accept.append(occ)
        if accept:
            status, out = self.duban("review", *map(str, accept), "--accept", "--by",
                                     "office:模拟")
            self.counts["accepted (CLI review)" if status == 0 else "accept failed (CLI)"] += (
                len(accept))
            if status != 0:
                self.notes.append(f"review --accept on {day}: {out.strip()[-200:]}")
        for item in returned:
            status, out = self.duban("review", str(item.occurrence), "--return",
                                     "模拟：佐证材料不全，请补充后重报", "--by", "office:模拟")
            self.counts["returned (CLI review)" if status == 0 else "return failed (CLI)"] += 1
            if status == 0:
                item.plan, item.on, item.returned = "report", None, True
            else:
                self.notes.append(f"review --return {item.occurrence}: {out.strip()[-200:]}")

    def urge(self, day: date) -> None:
        with self.ctx.db.read() as s:
            codes = sorted(set(s.scalars(
                select(Department.code).join(Occurrence, Occurrence.department_id == Department.id)
                .where(Occurrence.status == "open", Occurrence.due_on < day))))
        if not codes:
            return
        code = self.rng.choice(codes)
        if self.checker is not None:
            self.checker.manual[(code, day)] += 1
        status, out = self.duban("remind", code, "--note", "模拟：请尽快报送")
        self.counts["urged by hand (CLI)" if status == 0 else "urging failed (CLI)"] += 1
        if status != 0:
            self.notes.append(f"remind {code} on {day}: {out.strip()[-300:]}")


def _pick_form(html: str, which: str) -> dict[str, str] | None:
    for form in FORM.findall(html):
        hidden = dict(HIDDEN.findall(form))
        kind = hidden.get("kind", "report")
        if (which == "report" and 'name="kind"' in form and "hidden" not in _kind_input(form)) \
                or kind == which:
            if which == "report":
                hidden.pop("kind", None)
            return hidden
    return None


def _kind_input(form: str) -> str:
    match = re.search(r'<input[^>]*name="kind"[^>]*>', form)
    return match[0] if match else ""


def _parts(goal: tuple[float, str, bool], share: float) -> tuple[str, str]:
    """Numerator and denominator making `share` of the target (over 100 units)."""
    figure = float(_value(goal, share))
    return str(round(figure if goal[1] == "%" else figure * 100)), "100"


def _value(goal: tuple[float, str, bool], share: float) -> str:
    value, unit = goal[0], goal[1]
    figure = value * share
    if unit == "%":
        return str(min(100, round(figure, 1)))
    return str(math.ceil(figure))
