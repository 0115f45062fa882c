"""The one error type the service raises for a client's mistake, and its JSON shape."""

from __future__ import annotations


class ServiceError(Exception):
    """A request the service refuses: carries the HTTP status, a stable code and a message.

    Serialized as ``{"error": {"status": 404, "code": "unknown_title", "message": "..."}}``.
    """

    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def to_dict(self) -> dict:
        return {"error": {"status": self.status, "code": self.code, "message": self.message}}


def bad_request(message: str, code: str = "bad_request") -> ServiceError:
    return ServiceError(400, code, message)


def not_found(message: str, code: str = "not_found") -> ServiceError:
    return ServiceError(404, code, message)
