"""`benchmarks/run.py --quick` must never replace the full run's figures in BENCHMARKS.md."""

from __future__ import annotations

import tempfile
from pathlib import Path

from benchmarks.run import ROOT, default_output


def test_a_quick_run_writes_beside_not_over_benchmarks_md() -> None:
    assert default_output(quick=True, update=False) == (
        Path(tempfile.gettempdir()) / "duban-benchmarks-quick.md")


def test_a_full_run_or_an_update_writes_benchmarks_md() -> None:
    assert default_output(quick=False, update=False) == ROOT / "BENCHMARKS.md"
    assert default_output(quick=True, update=True) == ROOT / "BENCHMARKS.md"
