"""Inspections, results and publication API (issue 6). Placeholder blueprint: no routes yet."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("inspections", __name__, url_prefix="/api/v1")
