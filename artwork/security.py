"""Security headers on every response: HTML, JSON, images and errors alike.

The demo page loads only its own scripts and styles (``static/``), so the Content-Security-Policy
allows no inline script, no inline ``<style>``/``style=`` markup (the demo sets CSS custom
properties through the CSSOM, which CSP permits), no plugins and no framing. Install with
``security.init_app(app)``; a view that sets one of these headers itself keeps its own value.
"""

from __future__ import annotations

import hmac

from flask import request

from .errors import ServiceError

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "object-src 'none'",
])

#: name -> (value, what it is for). Also published as response headers in the OpenAPI document.
HEADERS: dict[str, tuple[str, str]] = {
    "Content-Security-Policy": (CONTENT_SECURITY_POLICY,
                                "Only this origin's scripts, styles, images and connections; no inline "
                                "script, no plugins, no framing."),
    "X-Content-Type-Options": ("nosniff", "Browsers must not guess a response's type."),
    "X-Frame-Options": ("DENY", "No framing (for browsers without CSP frame-ancestors)."),
    "Referrer-Policy": ("no-referrer", "No Referer header is sent from the demo's pages."),
    "Cross-Origin-Resource-Policy": ("same-origin", "Other origins may not embed these responses."),
}


_ADDED = [(name.lower(), name, value) for name, (value, _) in HEADERS.items()]


def add_security_headers(response):
    """Each of ``HEADERS`` that the response does not set itself. (Headers.setdefault costs
    10 µs for the five, two thirds of it the KeyError it raises and catches for a missing one.)"""
    headers = response.headers
    present = {key.lower() for key in headers.keys()}
    headers.extend([(name, value) for low, name, value in _ADDED if low not in present])
    return response


def init_app(app) -> None:
    """Add the headers to every response of ``app`` (error responses included)."""
    app.after_request(add_security_headers)


def require_admin(settings) -> None:
    """Refuse unless the request carries the configured admin bearer token (compared in constant
    time). With no token configured, admin operations are off: 403, never open."""
    token = settings.admin_token
    if not token:
        raise ServiceError(403, "admin_disabled", "admin operations are off: set ARTWORK_ADMIN_TOKEN to enable them")
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise ServiceError(401, "unauthorized", "admin operations need 'Authorization: Bearer <admin token>'",
                           headers={"WWW-Authenticate": "Bearer"})
