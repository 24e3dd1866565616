"""Errors of the inspections area; the web layer maps each to one HTTP status."""

from __future__ import annotations


class InspectionError(Exception):
    """Base class."""


class InvalidInput(InspectionError):
    """A field is missing or wrong (422)."""


class NotFound(InspectionError):
    """No such task, result, evidence or year (404)."""


class UnknownReference(InspectionError):
    """A well-formed request naming a record the registry does not hold (HTTP 409)."""


class StateError(InspectionError):
    """The step is not allowed in the current state, e.g. publishing before confirmation (409)."""


class TooLarge(InspectionError):
    """An uploaded file exceeds the size limit (413)."""
