"""Schemathesis hooks of the OpenAPI fuzz test (loaded through $SCHEMATHESIS_HOOKS).

The served document names what JSON Schema cannot say with a format: `gb32100` is a unified
social credit code whose two check characters are right (GB 32100-2015, GB 11714). Schemathesis
does not know that format, so this module tells it how to make such values — from the same
generator the demo uses — so that positive cases carry codes the service accepts.
"""

from __future__ import annotations

import random

import schemathesis
from hypothesis import strategies as st

from drawsvc import creditcode

schemathesis.openapi.format(
    "gb32100", st.integers(0, 2**32).map(lambda seed: creditcode.generate(random.Random(seed))))
