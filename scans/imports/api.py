"""The CI entry points: `POST /api/v1/scans/import` (a report a tool already wrote becomes a
completed scan) and `POST /api/v1/scan/docker` (scan an image with the "Container image audit"
workflow); both answer with the scan to poll at `GET /api/v1/scans/{id}`."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Role
from config.serializers import DetailSerializer, StrictSerializer
from scans import services
from scans.api import ERRORS, scan_submit_rate_limited
from scans.imports.services import IMPORTABLE_TOOLS, import_summary, scan_import


class ImportSerializer(StrictSerializer):
    tool = serializers.ChoiceField(
        choices=list(IMPORTABLE_TOOLS),
        error_messages={
            "invalid_choice": f'"{{input}}" is not a tool Outpost reads; one of {", ".join(IMPORTABLE_TOOLS)}.'
        },
    )
    file = serializers.FileField()
    target = serializers.CharField(required=False, allow_blank=True, max_length=500)
    workflow = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=200,
        help_text="A label grouping imports (diffs compare imports with the same label, tool and target)",
    )


class ImportResultSerializer(serializers.Serializer):
    scan_id = serializers.IntegerField()
    status = serializers.CharField()
    findings = serializers.IntegerField()
    severity_counts = serializers.DictField(child=serializers.IntegerField())
    new = serializers.IntegerField()
    still_open = serializers.IntegerField()
    fixed = serializers.IntegerField()
    previous_scan = serializers.IntegerField(allow_null=True)


class ScanImportView(APIView):
    """Upload a report a tool already wrote; it becomes a completed scan."""

    parser_classes = [MultiPartParser, FormParser]
    required_role = Role.ANALYST

    @extend_schema(
        tags=["scans"],
        summary="Import a Trivy/Grype/Gitleaks/Nuclei/Nmap report as a completed scan",
        request={"multipart/form-data": ImportSerializer},
        responses={201: ImportResultSerializer, 413: DetailSerializer, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        upload = request.FILES.get("file")
        if upload is not None and upload.size and upload.size > settings.IMPORT_MAX_BYTES:
            return Response(
                {
                    "detail": f"Report too large: {upload.size} bytes, the limit is {settings.IMPORT_MAX_BYTES} bytes."
                },
                status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            )
        body = ImportSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        scan = scan_import(
            team=request.team,  # type: ignore[attr-defined]
            user=request.user,  # type: ignore[arg-type]
            tool=data["tool"],
            data=data["file"].read(),
            filename=data["file"].name or "",
            target=data.get("target", ""),
            label=data.get("workflow", ""),
        )
        return Response(
            import_summary(scan),
            status=status.HTTP_201_CREATED,
            headers={"Location": f"/api/v1/scans/{scan.pk}"},
        )


class DockerScanSerializer(StrictSerializer):
    image = serializers.CharField(max_length=500)
    authorize_targets = serializers.BooleanField(
        default=True, help_text="Consent; the image must also be an authorized target."
    )


class DockerScanAccepted(serializers.Serializer):
    scan_id = serializers.IntegerField()
    status = serializers.CharField()


class DockerScanView(APIView):
    """The simple CI image-scan API: submit an image, poll `GET /api/v1/scans/{id}`."""

    required_role = Role.ANALYST

    @extend_schema(
        tags=["scans"],
        summary='Scan a container image with the "Container image audit" workflow',
        request=DockerScanSerializer,
        responses={202: DockerScanAccepted, **ERRORS},
    )
    def post(self, request: Request) -> Response:
        refused = scan_submit_rate_limited(request)
        if refused is not None:
            return refused
        body = DockerScanSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        scan = services.scan_start_image(
            team=request.team,  # type: ignore[attr-defined]
            user=request.user,  # type: ignore[arg-type]
            image=body.validated_data["image"],
            consent=body.validated_data["authorize_targets"],
        )
        return Response(
            {"scan_id": scan.pk, "status": "pending"},
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": f"/api/v1/scans/{scan.pk}"},
        )
