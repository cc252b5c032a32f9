"""The error pages (JSON under /api/, HTML elsewhere; never a stack trace)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render


def _error(request: HttpRequest, status: int, message: str) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message}, status=status)
    return render(request, "error.html", {"status": status, "message": message}, status=status)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 400, "The request could not be understood.")


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    detail = (
        str(exception) if exception and str(exception) else "You do not have permission to do this."
    )
    return _error(request, 403, detail)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 404, "Not found.")


def payload_too_large(
    request: HttpRequest, *, length: int, limit: int, back: str = ""
) -> HttpResponse:
    """413 page for a form post over the size limit (BodySizeLimitMiddleware refuses it before
    anything reads the body): the sizes in words, and `back` to the form when it has one."""
    from django.template.defaultfilters import filesizeformat

    size, most = filesizeformat(length), filesizeformat(limit)
    if size == most:
        size, most = f"{length:,} bytes", f"{limit:,} bytes"
    message = f"The upload is too large: {size}; the limit is {most}."
    context = {"status": 413, "message": message, "back": back}
    return render(request, "error.html", context, status=413)


def server_error(request: HttpRequest) -> HttpResponse:
    request_id = getattr(request, "request_id", "")
    return _error(
        request,
        500,
        f"Something went wrong on our side; it is logged under request id {request_id}.",
    )
