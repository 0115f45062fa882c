"""Security headers on every response: HTML, JSON, images and errors alike; the admin token and
the client keys that requests must carry.

The demo page loads only its own scripts and styles (``static/``), so the Content-Security-Policy
allows no inline script, no inline ``<style>``/``style=`` markup (the demo sets CSS custom
properties through the CSSOM, which CSP permits), no plugins and no framing. Install with
``security.init_app(app)``; a view that sets one of these headers itself keeps its own value.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

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


#: The header a public API call carries its client key in (README "Client keys").
CLIENT_KEY_HEADER = "X-Api-Key"
#: The error codes of a refused key: none given, or not one of the accepted keys.
CLIENT_KEY_CODES = ["missing_client_key", "invalid_client_key"]


def key_matches(given: str | None, keys: Sequence[str]) -> bool:
    """Whether ``given`` is one of ``keys``. Each comparison takes constant time and every key is
    compared (no early exit), so the time taken tells nothing about the keys."""
    if not given:
        return False
    given_bytes = given.encode()
    found = False
    for key in keys:
        found |= hmac.compare_digest(given_bytes, key.encode())
    return found


def require_client_key(settings, header: str = CLIENT_KEY_HEADER) -> None:
    """Refuse (401) unless the request's ``header`` holds one of the accepted keys (the client
    keys and the demo key); nothing is checked when CLIENT_KEYS is unset. The key itself is
    never logged nor repeated in the answer."""
    keys = settings.accepted_keys
    if not keys:
        return
    given = request.headers.get(header)
    if key_matches(given, keys):
        return
    if not given:
        code, message = CLIENT_KEY_CODES[0], f"this operation needs a client key in the {header} header"
    else:
        code, message = CLIENT_KEY_CODES[1], f"the key in the {header} header is not a valid client key"
    raise ServiceError(401, code, message, headers={"WWW-Authenticate": f'ApiKey header="{header}"'})
