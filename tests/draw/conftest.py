"""Shared fixtures of the draw-core tests: the vectors and the real drand rounds."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

_HERE = Path(__file__).resolve().parent
VECTORS = _HERE.parents[1] / "docs" / "vectors"
DRAND_FILE = VECTORS / "drand-rounds.json"  # the recorded real rounds (= drawsvc/data/drand_networks.json)


@pytest.fixture(scope="session")
def gen() -> Any:
    """The vector generator module (docs/vectors/make_draw_vectors.py)."""
    spec = importlib.util.spec_from_file_location("make_draw_vectors", VECTORS / "make_draw_vectors.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="session")
def drand_data() -> dict[str, Any]:
    return json.loads(DRAND_FILE.read_text())
