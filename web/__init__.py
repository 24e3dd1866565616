"""The Flask app factory: `create_app(instance)` wires the ledger and the blueprints."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask

from drawsvc.instance import Instance

from .cache import init_cache
from .errors import register_error_handlers
from .i18n import init_i18n
from .limits import init_limits


def create_app(instance: Instance, config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=instance.secret_key(),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        JSON_AS_ASCII=False,
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    init_limits(app)  # before the config: a test may lower MAX_CONTENT_LENGTH
    if config:
        app.config.update(config)
    ledger = instance.ledger()
    app.extensions["instance"] = instance
    app.extensions["engine"] = instance.engine()
    app.extensions["ledger"] = ledger
    init_i18n(app)  # before any message: the API's errors are in the request's language too
    register_error_handlers(app)
    init_cache(app)  # first of the after_request hooks to be registered, so it runs last

    from .log_api import bp as log_bp
    from .log_api import tiles_bp

    app.register_blueprint(log_bp)
    app.register_blueprint(tiles_bp)
    from .draws_api import bp as draws_bp
    from .openapi import init_openapi
    from .registry_api import bp as registry_bp
    from .registry_api import csrf_protect

    app.before_request(csrf_protect)  # every session-authenticated change, on every blueprint

    from .inspections_api import bp as inspections_bp
    from .jobs import bp as jobs_bp
    from .pages import bp as pages_bp

    app.register_blueprint(registry_bp)
    app.register_blueprint(draws_bp)
    app.register_blueprint(inspections_bp)
    app.register_blueprint(jobs_bp)
    app.register_blueprint(pages_bp)
    init_openapi(app)  # after every API blueprint: the document is generated from them
    _behind_proxies(app)
    return app


def _behind_proxies(app: Flask) -> None:
    """Behind N trusted reverse proxies / load balancers ($DRAWSVC_PROXY_HOPS or the PROXY_HOPS
    setting), take the client address and scheme from the last N X-Forwarded-For / -Proto
    hops: else every client would be the balancer's address to the login throttle (one
    attacker would block everyone) and HTTPS would look like HTTP. 0 (the default) trusts no
    header: a client could forge them (docs/DEPLOY.md)."""
    raw = str(app.config.get("PROXY_HOPS", os.environ.get("DRAWSVC_PROXY_HOPS", "0")) or "0")
    if not raw.isdigit() or int(raw) > 10:
        raise ValueError(f"DRAWSVC_PROXY_HOPS must be a number of proxies 0..10, got {raw!r}")
    if int(raw):
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=int(raw), x_proto=int(raw))  # type: ignore[method-assign]
