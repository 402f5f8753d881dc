"""`python scripts/drill.py [options]`: the same as `python -m duban.drill` (see duban/drill.py).

Two Prefect workers on PostgreSQL, one SIGKILLed mid-send; exits non-zero when a guarantee fails.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from duban.drill import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
