"""Helpers of the draw-core tests (a uniquely named module: `conftest` is shared by name)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "docs" / "vectors"
DRAND_FILE = VECTORS / "drand-rounds.json"  # the recorded real rounds (= drawsvc/data/drand_networks.json)


def load_vector(name: str) -> dict[str, Any]:
    return json.loads((VECTORS / name).read_text())
