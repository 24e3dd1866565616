"""Server-rendered pages (issue 7): public portal (公示), in-browser verifier, staff console and
the ceremony screen. Simplified Chinese by default, English with ?lang=en.

`bp` is registered by the app factory; it wires the page security (web.security) and the
error pages into the app once, and carries the sub-blueprints.
"""

from __future__ import annotations

from flask import Blueprint
from flask.blueprints import BlueprintSetupState

from .common import register_page_errors
from .inspections import bp as inspections_bp
from .public import bp as public_bp
from .staff import bp as staff_bp

bp = Blueprint("pages", __name__)
bp.register_blueprint(public_bp)
bp.register_blueprint(staff_bp)
bp.register_blueprint(inspections_bp)


@bp.record_once
def _setup(state: BlueprintSetupState) -> None:
    from web.security import init_security

    init_security(state.app)
    from .common import dept_name

    state.app.jinja_env.globals["dept_name"] = dept_name
    register_page_errors(state.app)

    @state.app.context_processor
    def _me() -> dict[str, object]:
        from .common import actor

        return {"me": actor()}
