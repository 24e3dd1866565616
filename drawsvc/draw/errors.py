"""Error classes of the draw core.

Every refusal has its own class so callers (CLI, API, verifier) can map it to a precise message
and status without parsing text, and tests can assert the exact reason a draw was refused.
All derive from DrawError (a ValueError): bad input, never a bug.
"""

from __future__ import annotations

from drawsvc.i18n import tr


class DrawError(ValueError):
    """Base class: the draw's inputs or a claimed result are refused."""


# --- seed ---------------------------------------------------------------------------
class SeedRecipeInvalid(DrawError):
    """The declared seed recipe is malformed (unknown source type, no server nonce, ...)."""


class RevealMismatch(DrawError):
    """The reveals do not correspond, one to one and in order, to the declared sources."""


class NonceInvalid(DrawError):
    """A server nonce is not exactly 32 bytes."""


class NonceMismatch(DrawError):
    """The revealed server nonce does not hash to the committed value."""


class DiceDigitsInvalid(DrawError):
    """Ceremony dice digits are not decimal digits, or fewer than required (>= 20)."""


class LotteryInvalid(DrawError):
    """Published lottery numbers are missing, negative or not integers."""


class ContributionInvalid(DrawError):
    """A witness contribution is too short or a commitment is malformed."""


class ContributionMismatch(DrawError):
    """A witness contribution does not hash to the witness's commitment."""


# --- drand --------------------------------------------------------------------------
class BeaconError(DrawError):
    """Base class for drand beacon problems."""


class BeaconEncodingError(BeaconError):
    """A key or signature is not a valid compressed point of the expected group."""


class BeaconSignatureInvalid(BeaconError):
    """The signature is well formed but does not verify for this round and key."""


class BeaconRandomnessMismatch(BeaconError):
    """The stated randomness is not SHA-256(signature)."""


class BeaconRoundInPast(BeaconError):
    """The declared round's time is not strictly after the prepare time."""


class BeaconChainUnknown(BeaconError):
    """The round names a chain whose parameters were not supplied."""


class BeaconChainHashMismatch(BeaconError):
    """A network's parameters do not hash to the chain hash they are filed under (drand's
    ChainInfo.Hash): they are not that network's, whatever they call themselves."""


# --- pools and rules ----------------------------------------------------------------
class PoolInvalid(DrawError):
    """A pool record is malformed (no id, no stratum, not canonical JSON) or an id repeats."""


class EmptyPool(DrawError):
    """The target pool (or a required inspector pool) has no members."""


class RatioInvalid(DrawError):
    """A ratio is not an exact decimal in [0, 1] or a count is negative."""


class SampleTooLarge(DrawError):
    """A stratum is asked for more subjects than it holds (k > n)."""


class FloorUnreachable(DrawError):
    """The general-item floor cannot be met with the strata that may be sampled."""


# --- matching and substitution -----------------------------------------------------
class TooFewInspectors(DrawError):
    """A selected subject cannot get a full team from the eligible inspectors."""

    def __init__(self, subject: str, message: str) -> None:
        super().__init__(tr("检查对象 %(subject)s：%(message)s", subject=subject, message=message))
        self.subject = subject


class SubstitutionInvalid(DrawError):
    """A substitution request is malformed (who leaves is not drawn, unknown reason ...)."""


class NotNextEligible(DrawError):
    """A claimed substitution did not bring in the next eligible candidate in ticket order."""


class SwapInvalid(DrawError):
    """A claimed target swap between two drawn inspectors breaks a rule."""


# --- seal ---------------------------------------------------------------------------
class SealInvalid(DrawError):
    """A seal's salt or commitment is malformed."""


class SealMismatch(DrawError):
    """The revealed content and salt do not match the seal commitment."""
