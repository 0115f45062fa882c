"""The API contract in code: ``@operation`` declares a view's body, path parameters and responses
(with the schemas of ``schemas.py``), validates each request against them before the view runs,
and ``build_openapi`` turns the same declarations into the OpenAPI 3.1 document served at
``GET /openapi.json``. There is no hand-kept copy of the document to fall out of date.

A request that does not fit is refused with the project's one error shape, status 400 (or the
status a path parameter declares), and a message naming the field::

    {"error": {"status": 400, "code": "too_many_titles",
               "message": "title_ids: expected at most 100 items, got 101"}}
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import jsonschema_rs
import orjson
from flask import current_app, request
from jsonschema import Draft202012Validator, FormatChecker, validators
from jsonschema.exceptions import ValidationError
from werkzeug.exceptions import ClientDisconnected

from .config import Settings
from .errors import ServiceError, bad_request
from .schemas import ERROR, PATH_PARAMETERS, PZ_ERROR, PZ_ERROR_CODES, error_for, pz_error_for
from .security import CLIENT_KEY_CODES, CLIENT_KEY_HEADER, require_admin, require_client_key

SchemaSpec = dict | Callable[[Settings], dict]  # a schema, or a function of the app's settings


def app_settings(app) -> Settings:
    """The app's ``Settings`` (``create_app`` keeps them beside the service)."""
    return app.extensions["artwork.settings"]
JSON = "application/json"

# Validation --------------------------------------------------------------------------------------

_RFC3339 = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})")


def parse_date_time(text: str) -> datetime | None:
    """An RFC 3339 date-time (with its offset) that Python can represent, else None."""
    if not isinstance(text, str) or not _RFC3339.fullmatch(text):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:  # month 13, second 60, ...
        return None


_FORMATS = FormatChecker(formats=())
_FORMATS.checks("date-time")(lambda value: not isinstance(value, str) or parse_date_time(value) is not None)


@functools.lru_cache(maxsize=256)
def _ecma_regex(pattern: str) -> re.Pattern:
    """ECMA-262 reading of a schema pattern: ``$`` ends the string (Python's ``$`` would also
    accept a trailing newline)."""
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


def _pattern(validator, pattern, instance, schema):
    if validator.is_type(instance, "string") and not _ecma_regex(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _years(validator, years, instance, schema):
    when = parse_date_time(instance) if isinstance(instance, str) else None
    if when is not None and not years[0] <= when.year <= years[1]:
        yield ValidationError(f"year {when.year} is outside {years[0]}-{years[1]}")


Validator = validators.extend(Draft202012Validator, {"pattern": _pattern, "x-years": _years})


def make_validator(schema: dict) -> Draft202012Validator:
    return Validator(schema, format_checker=_FORMATS)


class _RsYears:
    """``x-years`` for jsonschema-rs: the same check as ``_years``."""

    def __init__(self, parent_schema, value, schema_path):
        self.first, self.last = value

    def validate(self, instance):
        when = parse_date_time(instance) if isinstance(instance, str) else None
        if when is not None and not self.first <= when.year <= self.last:
            raise ValueError(f"year {when.year} is outside {self.first}-{self.last}")


class RequestValidator:
    """A compiled validator (jsonschema-rs) in front of the reference one (``jsonschema``).

    Most requests are valid, and the compiled validator says so in well under a microsecond
    where ``jsonschema`` takes tens (benchmarks/README.md). It only ever accepts: anything it
    refuses, or cannot take (a number too large for it, say), goes to the reference validator,
    which decides and names the error. Both read the same schema, with the same custom format
    and keywords; ``tests/test_openapi.py`` checks that they agree.
    """

    def __init__(self, schema: dict):
        self.reference = make_validator(schema)
        self.compiled = jsonschema_rs.Draft202012Validator(
            schema, formats={"date-time": lambda value: parse_date_time(value) is not None},
            validate_formats=True, keywords={"x-years": _RsYears})

    def accepts(self, instance) -> bool:
        """Fast yes; a no here means 'ask the reference validator', not 'invalid'."""
        try:
            return self.compiled.is_valid(instance)
        except Exception:  # a value jsonschema-rs cannot represent
            return False

    def is_valid(self, instance) -> bool:
        return self.accepts(instance) or self.reference.is_valid(instance)

    def errors(self, instance) -> list[ValidationError]:
        return [] if self.accepts(instance) else first_errors(self.reference, instance)


def _where(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


_TYPE_WORDS = {"number": "a finite number", "integer": "a whole number", "string": "a string",
               "boolean": "true or false", "array": "a list", "object": "an object", "null": "null"}
_ORDER = {"type": 0, "additionalProperties": 1, "required": 2, "oneOf": 3}


def _message(error: ValidationError) -> str:
    where, kw, value, instance, schema = (_where(error.absolute_path), error.validator, error.validator_value,
                                          error.instance, error.schema)
    prefix = f"{where}: " if where else ""
    if kw == "type" and not where:
        return "request body must be a JSON object"
    if kw == "additionalProperties":
        extras = sorted(set(instance) - set(schema.get("properties", {})))
        return f"{prefix}unknown field(s): {', '.join(extras)}"
    if kw == "required":
        missing = [name for name in value if name not in instance]
        return f"{_where([*error.absolute_path, missing[0]])} is required"
    if kw == "oneOf" and all(set(branch) == {"required"} for branch in value):
        names = [branch["required"][0] for branch in value]
        given = [n for n in names if n in instance]
        if given:
            return f"{prefix}give either {' or '.join(names)}, not both"
        return f"{prefix}{' or '.join(names)} is required"
    if kw in ("type", "pattern", "format") and "x-invalid" in schema:
        return f"{prefix}expected {schema['x-invalid']}, got {_show(instance)}"
    if kw == "type":
        kinds = [value] if isinstance(value, str) else value
        return f"{prefix}expected {' or '.join(_TYPE_WORDS.get(k, k) for k in kinds)}, got {_show(instance)}"
    if kw in _LIMIT_MESSAGES:
        return prefix + _LIMIT_MESSAGES[kw](value, instance)
    return f"{prefix}{error.message}"


#: keyword -> its message from (the keyword's value, the refused value); the message of a size
#: limit counts the refused value instead of showing it (it may have thousands of items).
_LIMIT_MESSAGES: dict[str, Callable[[Any, Any], str]] = {
    "minimum": lambda limit, got: f"expected at least {limit:g}, got {_show(got)}",
    "maximum": lambda limit, got: f"expected at most {limit:g}, got {_show(got)}",
    "exclusiveMinimum": lambda limit, got: f"expected more than {limit:g}, got {_show(got)}",
    "minLength": lambda limit, got: f"expected at least {limit} character(s), got {_show(got)}",
    "maxLength": lambda limit, got: f"expected at most {limit} characters, got {len(got)}",
    "minItems": lambda limit, _: "expected a non-empty list" if limit == 1 else f"expected at least {limit} items",
    "maxItems": lambda limit, got: f"expected at most {limit} items, got {len(got)}",
    "uniqueItems": lambda _, __: "contains duplicates",
    "minProperties": lambda limit, _: f"expected at least {limit} entr{'y' if limit == 1 else 'ies'}",
    "maxProperties": lambda limit, got: f"expected at most {limit} entries, got {len(got)}",
    "enum": lambda options, got: f"expected one of {', '.join(_show(v) for v in options)}, got {_show(got)}",
    "propertyNames": lambda _, got: f"unusable key {_show(got)}",
}


#: Size limits end the search for errors at once: a body over a limit is refused without looking
#: at each of its (perhaps hundreds of thousands of) items. Otherwise at most MAX_ERRORS are read.
_DECISIVE = {"maxItems", "maxProperties", "maxLength"}
MAX_ERRORS = 20


def first_errors(validator, instance) -> list[ValidationError]:
    errors = []
    for error in validator.iter_errors(instance):
        errors.append(error)
        if error.validator in _DECISIVE or len(errors) >= MAX_ERRORS:
            break
    return errors


def refusal(errors: list[ValidationError]) -> ServiceError | None:
    """The one error to answer for a list of validation errors (the shallowest, most basic first)."""
    if not errors:
        return None
    error = min(errors, key=lambda e: (len(e.absolute_path), _ORDER.get(e.validator, 9), _where(e.absolute_path)))
    code = error.schema.get("x-error-codes", {}).get(error.validator, "bad_request")
    return bad_request(_message(error)[:300], code)


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} is too large")
    return value


#: Deepest nesting of arrays and objects a body may have (the API's own bodies need 3).
MAX_NESTING = 64


def _shape(value) -> tuple[bool, int]:
    """(whether ``value`` holds a float, its nesting depth), without recursion."""
    pending, has_float, deepest = [(value, 0)], False, 0
    while pending:
        value, depth = pending.pop()
        kind = type(value)
        if kind is dict or kind is list:
            depth += 1
            deepest = max(deepest, depth)
            pending.extend((v, depth) for v in (value.values() if kind is dict else value))
        elif kind is float:
            has_float = True
    return has_float, deepest


def parse_json(data: bytes):
    """Strict JSON: no NaN or Infinity, no number that overflows a float, at most MAX_NESTING
    levels of arrays and objects (deeper ones are refused here, before validation, whose
    messages would recurse as deep).

    orjson reads it first, several times faster. Its answer is taken only if it holds no float
    (orjson reads an integer too large for 64 bits as a float, ``json`` as an int); anything
    else, and anything orjson refuses, is read again by ``json``, which decides and words the
    error. tests/test_openapi.py checks the two agree."""
    try:
        value = orjson.loads(data)
        again, depth = _shape(value)  # a float: json reads it again
    except orjson.JSONDecodeError:
        again = True  # json decides and words the error
    if again:
        try:
            value = json.loads(data, parse_constant=_reject_constant, parse_float=_finite_float)
        except RecursionError:
            raise bad_request("request body is nested too deeply") from None
        except ValueError as exc:  # JSONDecodeError, bad UTF-8, NaN, overflow
            raise bad_request(f"request body is not valid JSON: {exc}"[:300]) from None
        depth = _shape(value)[1]
    if depth > MAX_NESTING:
        raise bad_request(f"request body is nested too deeply (more than {MAX_NESTING} levels)")
    return value


# Declaring operations ----------------------------------------------------------------------------


@dataclass
class Operation:
    summary: str
    description: str = ""
    tags: tuple[str, ...] = ()
    body: SchemaSpec | None = None
    body_required: bool = True
    responses: dict[int, tuple[str, SchemaSpec | None]] = field(default_factory=dict)
    errors: dict[int, list[str]] = field(default_factory=dict)
    media_type: str = JSON
    response_headers: dict[int, dict[str, dict]] = field(default_factory=dict)
    max_body_bytes: int | None = None
    admin: bool = False
    client_key: bool = False
    #: The header the client key comes in, and the shape errors are answered in ("service", or
    #: "personalizer" for the Personalizer-compatible API).
    key_header: str = CLIENT_KEY_HEADER
    error_shape: str = "service"

    def body_schema(self, settings: Settings) -> dict | None:
        return resolve(self.body, settings)


def resolve(spec: SchemaSpec | None, settings: Settings) -> dict | None:
    return spec(settings) if callable(spec) else spec


def _app_cache() -> dict:
    return current_app.extensions.setdefault("artwork.openapi", {})


def _validator(key, schema_fn: Callable[[], dict]) -> RequestValidator:
    cache = _app_cache().setdefault("validators", {})
    if key not in cache:
        cache[key] = RequestValidator(schema_fn())
    return cache[key]


def check_path_parameters(values: Mapping[str, Any]) -> None:
    for name, value in values.items():
        if name not in PATH_PARAMETERS:
            continue
        schema, (status, code, message) = PATH_PARAMETERS[name]
        validator = _validator(("path", name), lambda schema=schema: schema)
        if not validator.is_valid(value):
            shown = value if len(value) <= 64 else value[:64] + "..."
            raise ServiceError(status, code, message.format(value=shown)[:300])


def request_bytes() -> bytes:
    """The request's body. With a Content-Length within the limit (nearly every request) it is
    read straight from the WSGI input: werkzeug's reading goes through stream wrappers that
    cost 9 us of a 60 us request in a warm loop. Anything else (no length, chunked, too large)
    goes to werkzeug, which frames the stream or answers 413."""
    environ = request.environ
    length = environ.get("CONTENT_LENGTH", "")
    if length.isascii() and length.isdigit() and "HTTP_TRANSFER_ENCODING" not in environ:
        size = int(length)
        limit = request.max_content_length
        if limit is None or size <= limit:
            data = environ["wsgi.input"].read(size)
            if len(data) != size:  # the client went away mid-body: what werkzeug answers
                raise ClientDisconnected()
            return data
    return request.get_data(cache=True)


def read_body(op: Operation, key) -> dict:
    """The request's JSON body, validated against the operation's schema (``{}`` if optional and empty)."""
    data = request_bytes()
    if not data.strip():
        if op.body_required:
            raise bad_request("request body must be a JSON object")
        return {}
    body = parse_json(data)
    validator = _validator(("body", key), lambda: op.body_schema(app_settings(current_app)))
    if validator.accepts(body):
        return body
    problem = refusal(validator.errors(body))
    if problem is not None:
        raise problem
    return body


def operation(summary: str, *, description: str = "", tags: tuple[str, ...] = (), body: SchemaSpec | None = None,
              body_required: bool = True, responses: dict[int, tuple[str, SchemaSpec | None]],
              errors: dict[int, list[str]] | None = None, media_type: str = JSON,
              response_headers: dict[int, dict[str, dict]] | None = None, max_body_bytes: int | None = None,
              admin: bool = False, client_key: bool = False, key_header: str = CLIENT_KEY_HEADER,
              error_shape: str = "service"):
    """Declare a view's contract. The wrapped view gets ``body=`` (the validated JSON object)
    when the operation has a body schema; path parameters are checked against
    ``schemas.PATH_PARAMETERS`` first. ``errors`` lists, per status, the error codes answered.
    ``admin`` operations check the admin token before anything else, ``client_key`` ones the
    client key (when CLIENT_KEYS is set) in ``key_header``; ``max_body_bytes`` raises the body limit
    for this operation (after those checks). ``error_shape`` names the errors' documented shape (the
    blueprint answers them in it)."""
    op = Operation(summary, description, tags, body, body_required, dict(responses), dict(errors or {}),
                   media_type, dict(response_headers or {}), max_body_bytes, admin, client_key, key_header,
                   error_shape)

    def decorate(view):
        @functools.wraps(view)
        def wrapper(**kwargs):
            if op.admin:  # before anything of the request is read
                require_admin(app_settings(current_app))
            elif op.client_key:
                require_client_key(app_settings(current_app), op.key_header)
            check_path_parameters(kwargs)
            if op.max_body_bytes is not None:  # this operation takes larger bodies than MAX_BODY_BYTES
                request.max_content_length = op.max_body_bytes
            if op.body is not None:
                kwargs["body"] = read_body(op, view.__qualname__)
            return view(**kwargs)

        wrapper.openapi = op
        return wrapper

    return decorate


# The document ------------------------------------------------------------------------------------

_SCHEMA_KEYS = ("items", "additionalProperties", "not", "propertyNames", "contains", "if", "then", "else",
                "unevaluatedItems", "unevaluatedProperties", "contentSchema")
_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "dependentSchemas")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")


class _Components:
    """Hoists every schema with a ``title`` into ``components.schemas`` and refers to it."""

    def __init__(self):
        self.schemas: dict[str, dict] = {}

    def ref(self, schema: dict) -> dict:
        name = schema.get("title")
        if name is None:
            return self.walk(schema)
        if name not in self.schemas:
            self.schemas[name] = {}  # placeholder against cycles
            self.schemas[name] = self.walk(schema)
        elif self.schemas[name] and self.schemas[name] != self.walk(schema):
            raise ValueError(f"two different schemas are titled {name!r}")
        return {"$ref": f"#/components/schemas/{name}"}

    def walk(self, schema: dict) -> dict:
        out = {}
        for key, value in schema.items():
            if key in _SCHEMA_KEYS and isinstance(value, dict):
                out[key] = self.ref(value)
            elif key in _SCHEMA_MAPS:
                out[key] = {k: self.ref(v) for k, v in value.items()}
            elif key in _SCHEMA_LISTS:
                out[key] = [self.ref(v) for v in value]
            else:
                out[key] = value
        return out


_PATH_VAR = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")
_STATUS_TEXT = {200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 304: "Not Modified", 400: "Bad Request",
                404: "Not Found", 409: "Conflict", 413: "Content Too Large"}
_ERROR_TEXT = {400: "Malformed or invalid request", 401: "Not authorized", 404: "Not found", 409: "Conflict",
               413: "Body larger than MAX_BODY_BYTES",
               503: "The decision log stayed locked; nothing was recorded, retry after Retry-After seconds"}
_ERROR_HEADERS = {503: {"Retry-After": {"required": True, "schema": {"type": "string", "pattern": "^[0-9]+$"}}}}
_CLIENT_KEY_401 = {"WWW-Authenticate": {"required": True, "description": "How to send the key.",
                                        "schema": {"type": "string"}}}
#: components.securitySchemes: the admin token always; the client key only where CLIENT_KEYS is set.
ADMIN_SCHEME = {"type": "http", "scheme": "bearer", "description": "ADMIN_TOKEN (README \"Who may do what\")."}
CLIENT_KEY_SCHEME = {"type": "apiKey", "in": "header", "name": CLIENT_KEY_HEADER,
                     "description": "One of CLIENT_KEYS (README \"Client keys\")."}
#: The Personalizer-compatible API's key header, checked against the same keys.
SUBSCRIPTION_KEY_SCHEME = {"type": "apiKey", "in": "header", "name": "Ocp-Apim-Subscription-Key",
                           "description": "One of CLIENT_KEYS, where Personalizer took its resource key."}
_KEY_SCHEMES = {CLIENT_KEY_HEADER: "clientKey", SUBSCRIPTION_KEY_SCHEME["name"]: "subscriptionKey"}


def openapi_path(rule: str) -> str:
    return _PATH_VAR.sub(lambda m: "{" + m.group(1) + "}", rule)


def _example(schema: dict | None):
    if not schema:
        return None
    examples = schema.get("examples")
    return examples[0] if examples else None


def _headers(extra: dict[str, dict] | None) -> dict:
    """Every response carries the security headers (``security.py``), plus any of its own."""
    from .security import HEADERS

    headers = {name: {"$ref": f"#/components/headers/{name}"} for name in HEADERS}
    headers.update(extra or {})
    return headers


def _operation_object(op: Operation, endpoint: str, method: str, params: list[str], settings: Settings,
                      components: _Components) -> dict:
    out: dict[str, Any] = {"operationId": f"{method}_{endpoint.split('.')[-1]}", "summary": op.summary}
    if op.description:
        out["description"] = op.description
    if op.tags:
        out["tags"] = list(op.tags)
    if params:
        out["parameters"] = []
        for name in params:
            schema = PATH_PARAMETERS[name][0]
            parameter = {"name": name, "in": "path", "required": True, "schema": components.walk(
                {k: v for k, v in schema.items() if k != "examples"})}
            if schema.get("description"):
                parameter["description"] = schema["description"]
            if _example(schema) is not None:
                parameter["example"] = _example(schema)
            out["parameters"].append(parameter)
    body = op.body_schema(settings)
    if body is not None:
        content = {"schema": components.ref(body)}
        if body.get("examples"):
            content["examples"] = {f"example{i + 1}": {"value": v} for i, v in enumerate(body["examples"])}
        out["requestBody"] = {"required": op.body_required, "content": {JSON: content}}
    responses = {}
    for status, (description, spec) in sorted(op.responses.items()):
        response: dict[str, Any] = {"description": description,
                                    "headers": _headers(op.response_headers.get(status))}
        schema = resolve(spec, settings)
        if schema is not None:
            response["content"] = {op.media_type: {"schema": components.ref(schema)}}
        elif status not in (204, 304):
            response["content"] = {op.media_type: {"schema": {"type": "string", "contentMediaType": op.media_type}}}
        responses[str(status)] = response
    for status, codes in sorted(op.errors.items()):
        responses[str(status)] = _error_response(status, codes, _ERROR_HEADERS.get(status), components,
                                                 op.error_shape)
    if op.admin:
        out["security"] = [{"adminToken": []}]
    elif op.client_key and settings.accepted_keys:
        out["security"] = [{_KEY_SCHEMES[op.key_header]: []}]
        responses["401"] = _error_response(401, CLIENT_KEY_CODES, _CLIENT_KEY_401, components, op.error_shape)
    out["responses"] = dict(sorted(responses.items()))
    return out


def _error_response(status: int, codes: list[str], headers: dict | None, components: _Components,
                    shape: str = "service") -> dict:
    if shape == "personalizer":
        schema = pz_error_for(status, codes)
        example = {"error": {"code": PZ_ERROR_CODES[status], "message": "...", "innerError": {"code": codes[0]}}}
    else:
        schema, example = error_for(status, codes), {"error": {"status": status, "code": codes[0], "message": "..."}}
    return {
        "description": f"{_ERROR_TEXT.get(status, _STATUS_TEXT.get(status, 'Error'))}: code {', '.join(codes)}",
        "headers": _headers(headers),
        "content": {JSON: {"schema": components.walk(schema), "example": example}},
    }


def documented_routes(app) -> list[tuple[str, str, str, Operation]]:
    """(path, method, endpoint, operation) of every rule whose view is declared with ``@operation``."""
    found = []
    for rule in app.url_map.iter_rules():
        op = getattr(app.view_functions.get(rule.endpoint), "openapi", None)
        if op is None:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((rule.rule, method.lower(), rule.endpoint, op))
    return found


def build_openapi(app) -> dict:
    """The OpenAPI 3.1 document of every declared route of ``app``, for its settings."""
    from .security import HEADERS

    settings = app_settings(app)
    components = _Components()
    paths: dict[str, dict] = {}
    for rule, method, endpoint, op in documented_routes(app):
        params = _PATH_VAR.findall(rule)
        paths.setdefault(openapi_path(rule), {})[method] = _operation_object(
            op, endpoint, method, params, settings, components)
    components.ref(ERROR)
    components.ref(PZ_ERROR)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Artwork personalization service",
            "version": _version(),
            "description": "Picks, for each person and title, which thumbnail to show, logs every decision "
                           "and learns from clicks. Generated from the code (artwork/schemas.py, "
                           "artwork/api.py). Every error has the shape of the `Error` schema.",
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(components.schemas.items())),
            "headers": {name: {"description": description, "required": True,
                               "schema": {"type": "string", "const": value}}
                        for name, (value, description) in HEADERS.items()},
            "securitySchemes": {"adminToken": ADMIN_SCHEME,
                                **({"clientKey": CLIENT_KEY_SCHEME, "subscriptionKey": SUBSCRIPTION_KEY_SCHEME}
                                   if settings.accepted_keys else {})},
        },
    }


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("artwork-personalizer")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0"


def openapi_document() -> dict:
    """The current app's document (built once per app)."""
    cache = _app_cache()
    if "document" not in cache:
        cache["document"] = build_openapi(current_app)
    return cache["document"]
