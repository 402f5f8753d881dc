"""`python -m tools.simulate`: the plan year on the real service, in its CI form.

Runs in a subprocess, as CI and an operator run it: a fresh home, the Prefect server, the report
page, the receivers, the simulated departments; asserts no invariant was violated and that the
window really happened (days, flow runs, messages, reports, item events in Prefect's feed).
Every simulated working day is a real set of ~20 flow runs, so CI simulates the first two weeks
of July 2023 (the first monthly deadline, its urging and escalation, the failing channel and the
killed dispatch fall inside); `--quick` (a quarter) and the full year run outside CI and their
reports are kept in docs/simulation/ (see BENCHMARKS.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.paths import REPO

TIMEOUT = 1800


def test_two_weeks_pass_every_invariant(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tools.simulate", "--start", "2023-07-03", "--days", "10",
         "--seed", "7", "--report", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT)
    tail = (done.stdout[-4000:] + done.stderr[-2000:])
    assert done.returncode == 0, tail
    figures = json.loads((tmp_path / "figures.json").read_text(encoding="utf-8"))
    assert figures["violations"] == 0, tail
    assert figures["days"] == 10 and figures["working_days"] >= 7
    assert figures["flow_runs"] >= figures["working_days"] * 2
    assert figures["messages"] > 0 and figures["reports"] > 0
    assert figures["events"]["in_feed"] >= figures["events"]["emitted"] > 0
    assert (tmp_path / "chart.png").read_bytes()[:4] == b"\x89PNG"
    assert "violations" in (tmp_path / "report.md").read_text(encoding="utf-8")
