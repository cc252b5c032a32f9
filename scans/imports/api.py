"""`POST /api/v1/scans/import`: a report a tool already wrote becomes a completed scan (CI
pipelines that run the tool themselves); the answer names the scan at `GET /api/v1/scans/{id}`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.http import team_of, user_of
from accounts.models import Role
from config.serializers import (
    DetailSerializer,
    StrictSerializer,
    detail_responses,
    validated_body,
)
from scans.imports.services import (
    IMPORT_MAX_FILES,
    import_summary,
    importable_tool_names,
    reports_identify,
    scan_import,
)
from scans.tools import importable_tools

ERRORS = detail_responses(400, 401, 403, 404, 429)


class ReportFilesSerializer(StrictSerializer):
    """Report files and, optionally, the tool that wrote them (what `scans/import/detect` reads)."""

    tool = serializers.ChoiceField(
        choices=[],
        required=False,
        allow_blank=True,
        help_text="The tool that wrote the report(s); left out, each report's tool is detected",
    )
    file = serializers.ListField(
        child=serializers.FileField(allow_empty_file=True),
        min_length=1,
        max_length=IMPORT_MAX_FILES,
        help_text="One report, or several reports of one CI run (repeat the field): one scan",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The tools are the registry's (scans.tools), read when a request is served.
        known = importable_tool_names()
        tool = self.fields["tool"]
        tool.choices = known  # type: ignore[attr-defined]
        tool.error_messages["invalid_choice"] = (
            f'"{{input}}" is not a tool Outpost reads; one of {", ".join(known)}.'
        )


class ImportSerializer(ReportFilesSerializer):
    target = serializers.CharField(required=False, allow_blank=True, max_length=500)
    workflow = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=200,
        help_text="A label grouping imports (diffs compare imports with the same label, tool and target)",
    )


class ImportResultSerializer(serializers.Serializer):
    scan_id = serializers.IntegerField()
    tools = serializers.ListField(child=serializers.CharField(), help_text="Detected or chosen")
    formats = serializers.ListField(child=serializers.CharField(), help_text="One per report")
    status = serializers.CharField()
    findings = serializers.IntegerField()
    severity_counts = serializers.DictField(child=serializers.IntegerField())
    new = serializers.IntegerField()
    still_open = serializers.IntegerField()
    fixed = serializers.IntegerField()
    previous_scan = serializers.IntegerField(allow_null=True)


class _ReportUploadView(APIView):
    """Report files arrive as a multipart upload, from analysts; over IMPORT_MAX_BYTES in all,
    they are refused before anything reads them."""

    parser_classes = [MultiPartParser, FormParser]
    required_role = Role.ANALYST

    def too_large(self, uploads: list[Any], message: Callable[[int], str]) -> Response | None:
        """The 413 (`message(size)` says why) when the uploads are over the limit."""
        size = sum(upload.size or 0 for upload in uploads)
        if size <= settings.IMPORT_MAX_BYTES:
            return None
        return Response({"detail": message(size)}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)


class ScanImportView(_ReportUploadView):
    """Upload a report a tool already wrote; it becomes a completed scan."""

    @extend_schema(
        tags=["scans"],
        summary="Import scanner reports (the tool detected or chosen) as one completed scan",
        request={"multipart/form-data": ImportSerializer},
        responses={201: ImportResultSerializer, 413: DetailSerializer, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        uploads = request.FILES.getlist("file")
        refused = self.too_large(
            uploads,
            lambda size: (
                f"Report too large: {size} bytes, the limit is {settings.IMPORT_MAX_BYTES} bytes."
            ),
        )
        if refused:
            return refused
        form: Any = request.data  # a QueryDict: multipart or urlencoded
        fields = {key: form.get(key) for key in form if key != "file"}
        body = ImportSerializer(data={**fields, "file": uploads})
        body.is_valid(raise_exception=True)
        data = body.validated_data
        scan = scan_import(
            team=team_of(request),
            user=user_of(request),
            tool=data.get("tool", ""),
            files=[(upload.name or "", upload.read()) for upload in data["file"]],
            target=data.get("target", ""),
            label=data.get("workflow", ""),
        )
        return Response(
            import_summary(scan),
            status=status.HTTP_201_CREATED,
            headers={"Location": f"/api/v1/scans/{scan.pk}"},
        )


class ImportFormatSerializer(serializers.Serializer):
    name = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # a field, not Field.label
    command = serializers.CharField(help_text="A command line that writes such a report")


class ImportToolSerializer(serializers.Serializer):
    tool = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]  # a field, not Field.label
    formats = ImportFormatSerializer(many=True)


class ImportToolsView(APIView):
    """The tools whose reports can be imported, with their formats (the CLI's `--tool` list)."""

    @extend_schema(
        tags=["scans"],
        summary="List the tools and report formats `POST /api/v1/scans/import` reads",
        responses={200: ImportToolSerializer(many=True), **ERRORS},
    )
    def get(self, request: Request) -> Response:
        return Response(
            [
                {
                    "tool": tool.type,
                    "label": tool.label,
                    "formats": [
                        {"name": f.name, "label": f.label, "command": f.command}
                        for f in tool.formats
                    ],
                }
                for tool in importable_tools()
            ]
        )


class IdentifiedSerializer(serializers.Serializer):
    name = serializers.CharField()
    size = serializers.IntegerField()
    tool = serializers.CharField(
        help_text="The tool the file would be imported as; empty when refused"
    )
    tool_label = serializers.CharField()
    format = serializers.CharField()
    format_label = serializers.CharField()
    is_empty = serializers.BooleanField(
        help_text="One of the tool's own empty reports: a clean scan"
    )
    error = serializers.CharField(help_text="Why the import would refuse the file; empty when not")


class ImportIdentifyView(_ReportUploadView):
    """What each uploaded file is (tool and format, or why it would be refused), without
    importing it: what the import page shows before the import."""

    @extend_schema(
        tags=["scans"],
        summary="Detect the tool and format of report files without importing them",
        request={"multipart/form-data": ReportFilesSerializer},
        responses={200: IdentifiedSerializer(many=True), 413: DetailSerializer, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        uploads = request.FILES.getlist("file")
        refused = self.too_large(
            uploads, lambda _: f"Reports too large: the limit is {settings.IMPORT_MAX_BYTES} bytes."
        )
        if refused:
            return refused
        if not uploads:
            return Response(
                {
                    "detail": "Send at least one file.",
                    "errors": {"file": ["This field is required."]},
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        tool = validated_body(ReportFilesSerializer, request).get("tool")
        found = reports_identify(
            files=[(upload.name or "", upload.read()) for upload in uploads[:IMPORT_MAX_FILES]],
            tool=str(tool or ""),
        )
        return Response(IdentifiedSerializer(found, many=True).data)
