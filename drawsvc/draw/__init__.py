"""The pure core of a verifiable 双随机 draw (no database, no HTTP server).

Modules: codec (tags and byte encodings), seed (nonce commitment, sources, seed), lottery
(RFC 3797 encoding), drand (BLS verification of beacon rounds), relay (HTTP fetch, the only
I/O), pool (pool commitments and member proofs), rules (stratum sizes), tickets, selection,
matching, substitution, seal, run (the whole draw). Specified in docs/SPEC.md Part II.
"""

from .codec import ALGORITHM
from .errors import *  # noqa: F403
from .errors import DrawError
from .matching import Assignment, Inspector, MatchResult, TeamRule, candidate_order, match_inspectors
from .pool import PoolCommitment, commit_pool, member_proof, verify_member
from .rules import stratum_sizes
from .run import DrawResult, run_draw, strata_of
from .seal import check_seal, seal
from .seed import check_recipe, derive_seed, nonce_commitment
from .selection import Selection, draw_subjects, removed_report, would_be_drawn
from .substitution import (
    check_inspector_substitution,
    check_subject_substitution,
    check_swap,
    substitute_inspector,
    substitute_subject,
    swap_targets,
)
from .tickets import KeyedShuffle, subject_ticket

__all__ = [
    "ALGORITHM", "DrawError", "Assignment", "Inspector", "MatchResult", "TeamRule", "candidate_order", "match_inspectors",
    "PoolCommitment", "commit_pool", "member_proof", "verify_member", "stratum_sizes", "DrawResult", "run_draw",
    "strata_of", "check_seal", "seal", "check_recipe", "derive_seed", "nonce_commitment", "Selection",
    "draw_subjects", "removed_report", "would_be_drawn", "check_inspector_substitution",
    "check_subject_substitution", "check_swap", "substitute_inspector", "substitute_subject", "swap_targets",
    "KeyedShuffle", "subject_ticket",
]
