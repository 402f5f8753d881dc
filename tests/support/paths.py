"""Where the repository's own files are, for tests that read them (config, seed, README)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONFIG_DIR = REPO / "config"
README = REPO / "README.md"
SEED = REPO / "docs" / "source" / "plan-2023-taimin-12.txt"  # 泰民〔2023〕12号 as text
