"""The whole draw from frozen inputs: sizes by the rules, selection per stratum, matching.

This is what the *drawn* step computes and what a verifier re-runs: a pure function of the
seed and the committed pools and parameters.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .codec import ALGORITHM
from .matching import Inspector, MatchResult, TeamRule, gc_paused, match_inspectors
from .rules import DEFAULT_FLOOR, stratum_sizes
from .selection import Selection, draw_subjects


@dataclass
class DrawResult:
    sizes: dict[str, int]
    selection: Selection
    match: MatchResult
    algorithm: str = ALGORITHM  # the prepared entry's (a v1 draw keeps v1 in its content)

    def content(self) -> dict[str, Any]:
        """The drawn content (what the seal commits to and the published entry reveals)."""
        return {"algorithm": self.algorithm, "sizes": dict(sorted(self.sizes.items())),
                "strata": self.selection.to_json(), "matching": self.match.to_json()}


def strata_of(records: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    """{stratum: [ids]} from subject pool records."""
    out: dict[str, list[str]] = {}
    for r in records:
        out.setdefault(r["stratum"], []).append(r["id"])
    return out


def run_draw(seed: bytes, strata: Mapping[str, Sequence[str]], ratios: Mapping[str, str | int],
             inspectors: Sequence[Inspector], rule: TeamRule, *, floor: str = DEFAULT_FLOOR, key_item: bool = False,
             conflicts: Collection[tuple[str, str]] = (), prior_load: Mapping[str, int] | None = None,
             experts: Sequence[Inspector] = ()) -> DrawResult:
    """Sizes (rules.stratum_sizes), selection (lowest tickets) and teams (matching), in that order."""
    sizes = stratum_sizes({s: len(v) for s, v in strata.items()}, ratios, floor, key_item)
    with gc_paused():  # no cycles are made; automatic collections would rescan the whole pool
        selection = draw_subjects(seed, strata, sizes)
        match = match_inspectors(seed, selection.matching_order, inspectors, rule, conflicts, prior_load, experts)
    return DrawResult(sizes, selection, match)
