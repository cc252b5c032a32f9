"""Request id + timing + audit, body size limits, the current team, and the CSP header."""

from __future__ import annotations

import functools
import re
import time
import uuid
from collections.abc import Callable

import structlog
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from accounts.audit import RequestContext, audit_record, current_request
from accounts.models import AuditEvent
from accounts.services import membership_for
from config.network import client_ip
from config.views import payload_too_large

log = structlog.get_logger(__name__)

REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")
Handler = Callable[[HttpRequest], HttpResponse]


def _outcome(status: int) -> str:
    if status < 400:
        return AuditEvent.Outcome.OK
    if status in (401, 403, 429):
        return AuditEvent.Outcome.DENIED
    if status >= 500:
        return AuditEvent.Outcome.ERROR
    return AuditEvent.Outcome.FAILED


class RequestContextMiddleware:
    """Outermost: gives every request an id (taken from `X-Request-ID` when it is sane), binds
    it to the logs, returns it, and writes one audit event per API request with its timing."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        ctx = RequestContext(
            request_id=request_id,
            method=request.method or "",
            path=request.path,
            client_ip=client_ip(request),
            user_agent=request.headers.get("User-Agent", "")[:300],
        )
        token = current_request.set(ctx)
        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            if getattr(request, "api_key_header_used", False):
                response["Deprecation"] = "true"
                response["Link"] = '</api/docs>; rel="deprecation"'
            if request.path.startswith("/api/"):
                # Written when the server closes the response, after the client has its answer:
                # the audit INSERT is no longer part of every API call's latency.
                duration_ms = (time.perf_counter() - started) * 1000
                response._resource_closers.append(  # type: ignore[attr-defined]
                    functools.partial(self._audit_in, ctx, request, response, duration_ms)
                )
            return response
        finally:
            structlog.contextvars.unbind_contextvars("request_id")
            current_request.reset(token)

    @classmethod
    def _audit_in(
        cls, ctx: RequestContext, request: HttpRequest, response: HttpResponse, duration_ms: float
    ) -> None:
        """The audit event of a request, written in its context once the response is closed."""
        token = current_request.set(ctx)
        structlog.contextvars.bind_contextvars(request_id=ctx.request_id)
        try:
            cls._audit(request, response, duration_ms)
        finally:
            structlog.contextvars.unbind_contextvars("request_id")
            current_request.reset(token)

    @staticmethod
    def _audit(request: HttpRequest, response: HttpResponse, duration_ms: float) -> None:
        credential = getattr(request, "credential", None)
        user = getattr(request, "user", None)
        detail = {}
        if credential is not None:
            detail = {"auth": credential.via, "api_key_id": credential.api_key.pk}
        try:
            audit_record(
                "api.request",
                outcome=_outcome(response.status_code),
                user=credential.user if credential else user,
                team=getattr(request, "team", None),
                status_code=response.status_code,
                duration_ms=duration_ms,
                detail=detail,
                durable=False,  # the access log: see audit_record
            )
        except Exception:
            # The audit trail failing must be loud but must not turn a served answer into a 500.
            log.exception("audit.write_failed")


MULTIPART_FRAMING_BYTES = 16 * 1024


class BodySizeLimitMiddleware:
    """Refuse oversized bodies with 413 from `Content-Length`, before anything reads them.
    (Bodies without a length are capped by DATA_UPLOAD_MAX_MEMORY_SIZE → 413 in the API.)"""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        raw_length = request.META.get("CONTENT_LENGTH") or "0"
        try:
            length = int(raw_length)
        except ValueError:
            return JsonResponse({"detail": "Content-Length is not a number."}, status=400)
        large = any(request.path.startswith(p) for p in settings.LARGE_BODY_PATHS)
        limit = settings.IMPORT_MAX_BYTES if large else settings.API_MAX_BODY_BYTES
        # An upload's body is the file plus the multipart framing and the form's other fields:
        # a report of exactly the limit must get through to the view, which checks the file.
        if length > limit + (MULTIPART_FRAMING_BYTES if large else 0):
            if not request.path.startswith("/api/"):
                # A page (the report-import form): a readable page, not a JSON blob in the tab;
                # the upload pages (LARGE_BODY_PATHS) get a link back to their form.

                back = request.path if large else ""
                return payload_too_large(request, length=length, limit=limit, back=back)
            return JsonResponse(
                {"detail": f"Request body too large: {length} bytes, the limit is {limit} bytes."},
                status=413,
            )
        return self.get_response(request)


class TeamMiddleware:
    """Sets `request.team`, `request.membership` and `request.role` for browser sessions.

    The team is the one the user switched to (kept in the session), else their personal team.
    API requests get theirs from their credential (accounts.authentication)."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:

        request.team = None  # type: ignore[attr-defined]
        request.membership = None  # type: ignore[attr-defined]
        request.role = None  # type: ignore[attr-defined]
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            membership = membership_for(user, request.session.get("team_id"))
            if membership is not None:
                request.team = membership.team  # type: ignore[attr-defined]
                request.membership = membership  # type: ignore[attr-defined]
                request.role = membership.role  # type: ignore[attr-defined]
        return self.get_response(request)


class ContentSecurityPolicyMiddleware:
    """A strict CSP: scripts and styles only from this origin, no inline script anywhere."""

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        policy = settings.CONTENT_SECURITY_POLICY
        if request.path.startswith("/api/docs"):
            # Swagger UI sets style attributes; scripts stay same-origin only.
            policy = policy.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
        response.headers.setdefault("Content-Security-Policy", policy)
        return response
