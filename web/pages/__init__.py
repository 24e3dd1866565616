"""Server-rendered pages (issue 7). Placeholder blueprint: no routes yet."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("pages", __name__)
