"""One error shape for the whole API: `{"detail": "...", "errors": {...}}`, never a stack trace."""

from __future__ import annotations

from typing import Any

import structlog
from django.core.exceptions import (
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
)
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

log = structlog.get_logger(__name__)


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The object is in a state that does not allow this."
    default_code = "conflict"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body too large."
    default_code = "too_large"


def validation_response(exc: DjangoValidationError) -> Response:
    """A service's ValidationError as a 400 whose detail is its first message (what a person
    reads) and whose errors are its fields' messages."""
    errors = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
    first = next(iter(errors.values()))[0]
    return Response({"detail": first, "errors": errors}, status=status.HTTP_400_BAD_REQUEST)


def _summary(errors: Any) -> str:
    """A one-line human summary of a DRF error structure."""
    if isinstance(errors, dict):
        for field, value in errors.items():
            inner = _summary(value)
            return inner if field in ("non_field_errors", "detail") else f"{field}: {inner}"
    if isinstance(errors, list) and errors:
        return _summary(errors[0])
    return str(errors)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, SuspiciousOperation):
        exc = exceptions.ParseError(str(exc) or "Malformed request.")
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        # Unexpected: log it with the request id, answer without internals.
        log.exception("api.unhandled_error", error_type=type(exc).__name__)
        return Response(
            {"detail": "Internal error; it has been logged with this request's X-Request-ID."},
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )

    data = response.data
    if isinstance(exc, exceptions.ValidationError):
        errors = data if isinstance(data, dict) else {"non_field_errors": data}
        response.data = {"detail": f"Invalid input: {_summary(errors)}", "errors": errors}
    elif isinstance(data, dict) and "detail" in data:
        response.data = {
            "detail": str(data["detail"]),
            **{k: v for k, v in data.items() if k != "detail"},
        }
    else:
        response.data = {"detail": _summary(data), "errors": data}
    return response
