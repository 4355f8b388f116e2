"""Flask application factory (`from web import create_app`). Views parse HTTP, call envelope/, render."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, request
from werkzeug.middleware.proxy_fix import ProxyFix

from envelope.config import Settings
from envelope.accounts.ratelimit import uses_database
from envelope.runtime import Runtime
from web.machine.auth import LenientAuthorization
from web.spooling import spooling_request

FORM_FIELD_LIMIT = 4 * 1024**2  # bytes: long READMEs fit, abuse does not
REQUEST_OVERHEAD = 16 * 1024**2  # bytes allowed on top of the file for form fields


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.request_class = type("Request", (LenientAuthorization, spooling_request(settings.tmp_dir)), {})
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_file_size + REQUEST_OVERHEAD,
        MAX_FORM_MEMORY_SIZE=FORM_FIELD_LIMIT,
        JSON_SORT_KEYS=False,
    )
    app.extensions["envelope"] = Runtime.from_settings(settings)
    # Counted in one place for every process (envelope/accounts/ratelimit.py): Redis or the database.
    app.config["RATELIMIT_STORAGE_URI"] = settings.ratelimit_storage_url
    if settings.trusted_hosts:
        # werkzeug answers 400 to any other Host (or X-Forwarded-Host from a
        # trusted proxy) before a view runs. The base URL's own host is
        # always trusted: the links in mail point there.
        app.config["TRUSTED_HOSTS"] = [*settings.trusted_hosts, urlsplit(settings.base_url).hostname]
    if uses_database(settings.ratelimit_storage_url):
        app.config["RATELIMIT_STORAGE_OPTIONS"] = {"database": app.extensions["envelope"].db}
    # An unreachable limiter store must not lock everyone out: log and let the request through.
    app.config["RATELIMIT_SWALLOW_ERRORS"] = True

    from web import errors
    from web.pages import accounts, account_settings, admin  # noqa: F401 - the last two add routes to accounts.bp
    from web.machine import files
    from web.machine import health
    from web.machine import hooks
    from web.machine import integrity
    from web.machine import oidc
    from web.machine import pypi_json
    from web.machine import simple
    from web.machine import upload
    from web.extensions import csrf, limiter
    from web.pages.login import init_login

    errors.register(app)
    app.jinja_env.globals["billing_enabled"] = settings.billing_enabled  # the Billing link
    app.after_request(no_sniffing)
    init_login(app, settings)
    csrf.init_app(app)
    limiter.init_app(app)
    machine = (health, simple, pypi_json, files, integrity, upload, hooks)
    _skip_limiter_check_for(limiter, {module.bp.name for module in machine})
    # Machine endpoints authenticate every request (Basic auth, HMAC); they
    # carry no cookies worth forging, so CSRF tokens do not apply.
    for module in machine:
        app.register_blueprint(module.bp)
        csrf.exempt(module.bp)
    # Trusted publishing: a token in the body authenticates each call; its
    # declared rate limits are checked (it is not in `machine`).
    app.register_blueprint(oidc.bp)
    csrf.exempt(oidc.bp)
    # Browser pages: CSRF tokens required on every form.
    app.register_blueprint(accounts.bp)
    # Organization pages (CSRF-protected) and the JSON API, which checks
    # CSRF itself for cookie-authenticated requests only.
    from web import api
    from web.pages import audit
    from web.pages import billing
    from web.pages import github_app
    from web.pages import invitations
    from web.pages import orgs
    from web.pages import projects
    from web.pages import publishers
    from web.pages import repositories
    from web.pages import retention
    from web.pages import tokens

    for module in (github_app, orgs, invitations, projects, tokens, repositories, publishers, retention, billing, audit, api):
        app.register_blueprint(module.bp)
    from web.machine import thin

    thin.install(app)  # index pages and files without Flask's machinery when the credentials are cached
    if settings.trusted_proxies:
        # Behind N proxies, the client address (rate limits, the sessions
        # list), the scheme and the host come from their X-Forwarded-*
        # headers, for the thin path and Flask alike.
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    return app


def no_sniffing(response: Response) -> Response:
    """Every response, errors and file downloads included, is read as the
    type it declares: a browser never guesses HTML or script out of an
    uploaded file or an error message."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response


_MACHINE_BLUEPRINTS: set[str] = set()


def _skip_limiter_check_for(limiter, blueprints: set[str]) -> None:
    """Flask-Limiter runs its check before every request, and on an index page
    that check costs about a third of the request. The machine endpoints carry
    no declared limits (web/machine/auth.py counts failed sign-ins itself), so they
    skip it through Flask-Limiter's public request filter, which it consults
    before looking up any limit; the pages' decorated limits are untouched.
    The limiter is one per process (web/extensions.py): register once."""
    if not _MACHINE_BLUEPRINTS:
        limiter.request_filter(_is_machine_endpoint)
    _MACHINE_BLUEPRINTS.update(blueprints)


def _is_machine_endpoint() -> bool:
    return request.blueprint in _MACHINE_BLUEPRINTS
