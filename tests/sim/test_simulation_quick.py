"""`python -m tools.simulate`: the plan year on the real service, in its CI form.

Runs in a subprocess, as CI and an operator run it: a fresh home, the Prefect server, the report
page, the receivers, the simulated departments; asserts no invariant was violated and that the
window really happened (days, flow runs, messages, reports, item events in Prefect's feed).
Every simulated working day is a real set of ~20 flow runs; CI runs `--quick`, the plan's first
quarter (its first monthly deadlines, their urging and escalation, the failing channel and the
killed dispatch fall inside). The whole plan year runs outside CI and its report is kept in
docs/simulation/ (see BENCHMARKS.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.paths import REPO

TIMEOUT = 1800


def test_the_first_quarter_passes_every_invariant(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tools.simulate", "--quick", "--seed", "7",
         "--report", str(tmp_path)],
        cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT)
    tail = (done.stdout[-4000:] + done.stderr[-2000:])
    assert done.returncode == 0, tail
    figures = json.loads((tmp_path / "figures.json").read_text(encoding="utf-8"))
    assert figures["violations"] == 0, tail
    assert figures["days"] == 92 and figures["working_days"] >= 55  # a quarter
    assert figures["flow_runs"] >= figures["working_days"] * 2
    assert figures["messages"] > 0 and figures["reports"] > 0
    assert figures["events"]["in_feed"] >= figures["events"]["emitted"] > 0
    assert (tmp_path / "chart.png").read_bytes()[:4] == b"\x89PNG"
    assert "violations" in (tmp_path / "report.md").read_text(encoding="utf-8")
