"""Scans API: start (or dry-run), list, detail (`?format=json|table`), logs, findings, cancel,
delete; the CI image scan (`POST /api/v1/scan/docker`); and the scans app's API routes (findings,
report imports and team metrics live in their packages)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter
from rest_framework.views import APIView

from accounts.http import team_of, user_of
from accounts.models import Role
from config.pagination import paginated_response
from config.serializers import (
    ConsentField,
    StrictSerializer,
    choice_param,
    detail_responses,
    validated_body,
)
from scans import services
from scans.assets.api import AssetViewSet, ScanAssetsView
from scans.engine.coverage import scan_coverage
from scans.findings.api import FindingViewSet
from scans.findings.diff import scan_diff
from scans.findings.exports import scan_export_response, scan_findings_ordered
from scans.findings.ownership import findings_decorate
from scans.findings.serializers import FindingSerializer
from scans.findings.text import scan_as_table
from scans.imports.api import ImportIdentifyView, ImportToolsView, ScanImportView
from scans.models import (
    Finding,
    Scan,
    ScanLog,
    ScanStatus,
    ScanStep,
    Severity,
    severity_rank_expression,
)
from scans.reports.metrics import MetricsView
from scans.reports.pdf import report_pdf_response
from workflows.models import Workflow


class ScanStepSerializer(serializers.ModelSerializer):
    duration_s = serializers.FloatField(read_only=True, allow_null=True)

    class Meta:
        model = ScanStep
        fields = [
            "id", "node_id", "node_type", "status", "attempt", "max_attempts", "timeout_s", "executor",
            "commands", "image", "image_digest", "exit_code", "queued_at", "started_at", "finished_at",
            "heartbeat_at", "duration_s", "items_in", "items_out", "findings_count", "out_of_scope",
            "scope_enforcement", "blocked", "error", "stdout_tail", "stderr_tail",
        ]  # fmt: skip
        read_only_fields = fields


class ScanListSerializer(serializers.ModelSerializer):
    workflow: serializers.PrimaryKeyRelatedField[Any] = serializers.PrimaryKeyRelatedField(
        read_only=True
    )
    requested_by = serializers.EmailField(source="requested_by.email", read_only=True, default=None)
    duration_s = serializers.FloatField(read_only=True, allow_null=True)
    progress = serializers.IntegerField(source="progress_percent", read_only=True)

    class Meta:
        model = Scan
        fields = [
            "id", "workflow", "workflow_name", "workflow_revision", "source", "mode", "status", "error",
            "target_snapshot", "requested_by", "created_at", "started_at", "finished_at", "duration_s",
            "steps_total", "steps_done", "progress", "items_count", "findings_count", "severity_counts",
        ]  # fmt: skip
        read_only_fields = fields


class CoverageTargetSerializer(serializers.Serializer):
    kind = serializers.CharField()
    value = serializers.CharField()
    steps = serializers.ListField(child=serializers.CharField(), help_text="Steps it was given to")
    covered = serializers.BooleanField(allow_null=True, help_text="null while its steps run")
    reason = serializers.CharField(help_text="Why it was not covered")


class CoverageSerializer(serializers.Serializer):
    state = serializers.ChoiceField(
        choices=["complete", "partial", "pending", "planned"],
        help_text="partial: some targets were not covered (see targets)",
    )
    uncovered = serializers.IntegerField()
    targets = CoverageTargetSerializer(many=True)


class ScanDetailSerializer(ScanListSerializer):
    steps = ScanStepSerializer(many=True, read_only=True)
    coverage = serializers.SerializerMethodField()

    class Meta(ScanListSerializer.Meta):
        fields = [
            *ScanListSerializer.Meta.fields, "has_consent", "graph", "plan", "steps", "coverage",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(CoverageSerializer)
    def get_coverage(self, scan: Scan) -> dict[str, Any]:
        return scan_coverage(scan, list(scan.steps.all()))


class ScanCreateSerializer(StrictSerializer):
    workflow = serializers.IntegerField(min_value=1)
    targets = serializers.ListField(
        child=serializers.IntegerField(min_value=1), min_length=1, max_length=1000
    )
    authorize_targets = ConsentField(
        help_text="Consent: you confirm you are authorized to scan these targets. Required true."
    )
    dry_run = serializers.BooleanField(
        default=False, help_text="Resolve and plan only; execute nothing."
    )
    mode = serializers.ChoiceField(
        choices=[m.value for m in Scan.Mode],
        required=False,
        help_text="run (default), dry_run (plan only) or demo (walks the graph with synthetic "
        "results: no tool, no network, nothing counted).",
    )


class ScanLogSerializer(serializers.ModelSerializer):
    step = serializers.CharField(source="step.node_id", default=None, read_only=True)

    class Meta:
        model = ScanLog
        fields = ["id", "created_at", "level", "step", "message"]
        read_only_fields = fields


ERRORS = detail_responses(400, 401, 403, 404, 409, 429)


def _parse_datetime(params: Any, name: str) -> Any:
    raw = params.get(name)
    if not raw:
        return None
    try:
        return serializers.DateTimeField().to_internal_value(raw)
    except serializers.ValidationError as exc:
        raise serializers.ValidationError({name: exc.detail}) from None


def _positive_int(params: Any, name: str) -> int | None:
    raw = params.get(name)
    if raw in (None, ""):
        return None
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise serializers.ValidationError({name: ["Must be an integer."]}) from None
    if value < 1:
        raise serializers.ValidationError({name: ["Must be positive."]})
    return value


class ScanResultsSerializer(ScanDetailSerializer):
    """`?format=json`: the scan with its results, like `?format=table` in JSON."""

    # Only with ?format=json: the plain detail leaves it out, so the schema must not require it.
    results = serializers.SerializerMethodField(
        help_text="With `?format=json` only: every finding of the scan, worst first (also paged "
        "at /findings)",
    )

    class Meta(ScanDetailSerializer.Meta):
        fields = [*ScanDetailSerializer.Meta.fields, "results"]
        read_only_fields = fields
        schema_optional = ["results"]

    @extend_schema_field(FindingSerializer(many=True))
    def get_results(self, scan: Scan) -> Any:

        rows = findings_decorate(scan.team, list(scan_findings_ordered(scan)))
        return FindingSerializer(rows, many=True).data


class ScanDiffSerializer(serializers.Serializer):
    scan = serializers.IntegerField()
    previous_scan = serializers.IntegerField(allow_null=True)
    new = FindingSerializer(many=True)
    fixed = FindingSerializer(many=True)
    still_open = FindingSerializer(many=True)
    counts = serializers.DictField(child=serializers.IntegerField())


def _diff_response(scan: Scan) -> dict[str, Any]:

    diff = scan_diff(scan)

    def rows(owner: Scan | None, fps: list[str]) -> list[Any]:
        if owner is None or not fps:
            return []
        qs = (
            Finding.objects.filter(team_id=owner.team_id, scan=owner, fingerprint__in=fps[:2000])
            .annotate(rank=severity_rank_expression())
            .order_by("-rank", "title")
        )
        return list(FindingSerializer(findings_decorate(scan.team, list(qs)), many=True).data)

    return {
        "scan": scan.pk,
        "previous_scan": diff.previous.pk if diff.previous else None,
        "new": rows(scan, diff.new),
        "fixed": rows(diff.previous, diff.fixed),
        "still_open": rows(scan, diff.still_open),
        "counts": {
            "new": len(diff.new),
            "fixed": len(diff.fixed),
            "still_open": len(diff.still_open),
        },
    }


FILTER_PARAMETERS = [
    OpenApiParameter("status", str, enum=ScanStatus.values),
    OpenApiParameter("workflow", {"type": "integer", "minimum": 1}),
    OpenApiParameter("target", {"type": "integer", "minimum": 1}, description="target id"),
    OpenApiParameter("since", OpenApiTypes.DATETIME),
    OpenApiParameter("until", OpenApiTypes.DATETIME),
    OpenApiParameter("page", {"type": "integer", "minimum": 1}),
    OpenApiParameter("page_size", {"type": "integer", "minimum": 1}),
]


@extend_schema(tags=["scans"])
@extend_schema_view(list=extend_schema(summary="List scans", parameters=FILTER_PARAMETERS))
class ScanViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    action_roles = {"create": Role.ANALYST, "cancel": Role.ANALYST, "destroy": Role.ANALYST}

    def get_queryset(self) -> QuerySet[Scan]:
        params = self.request.query_params
        filters: dict[str, Any] = {}
        if self.action == "list":
            filters = {
                "status": choice_param(params, "status", ScanStatus.values),
                "workflow": _positive_int(params, "workflow"),
                "target": _positive_int(params, "target"),
                "since": _parse_datetime(params, "since"),
                "until": _parse_datetime(params, "until"),
                "source": params.get("source"),
            }
        qs = services.scans_for(team_of(self.request), **filters)
        if self.action == "retrieve":
            qs = qs.prefetch_related("steps")
        return qs.distinct() if filters.get("target") else qs

    def get_serializer_class(self) -> type[serializers.BaseSerializer]:
        return ScanDetailSerializer if self.action == "retrieve" else ScanListSerializer

    @extend_schema(
        summary="Start a scan (or a dry run) of a workflow on authorized targets",
        request=ScanCreateSerializer,
        responses={201: ScanDetailSerializer, **ERRORS},
    )
    def create(self, request: Request) -> Response:
        data = validated_body(ScanCreateSerializer, request)
        workflow = Workflow.objects.filter(team=team_of(request), pk=data["workflow"]).first()
        scan = services.scan_start(
            team=team_of(request),
            user=user_of(request),
            workflow=workflow,
            target_ids=data["targets"],
            consent=data["authorize_targets"],
            mode=data.get("mode") or (Scan.Mode.DRY_RUN if data["dry_run"] else Scan.Mode.RUN),
            request=request._request,
        )
        scan = Scan.objects.prefetch_related("steps").get(pk=scan.pk)
        return Response(
            ScanDetailSerializer(scan).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": f"/api/v1/scans/{scan.pk}"},
        )

    @extend_schema(
        summary="A scan with its steps; `?format=json` adds its findings (`results`), "
        "`?format=table|csv|sarif` gives them as a text table, CSV (streamed) or SARIF 2.1.0",
        parameters=[OpenApiParameter("format", str, enum=["json", "table", "csv", "sarif"])],
        responses={
            200: ScanResultsSerializer,
            (200, "text/plain"): OpenApiResponse(OpenApiTypes.STR),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR),
            (200, "application/sarif+json"): OpenApiResponse(OpenApiTypes.OBJECT),
            **ERRORS,
        },
    )
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        scan = self.get_object()
        fmt = request.query_params.get("format", "json")
        if fmt == "table":
            findings = scan.findings.annotate(rank=severity_rank_expression()).order_by(
                "-rank", "title"
            )
            response = HttpResponse(
                scan_as_table(scan, findings), content_type="text/plain; charset=utf-8"
            )
            response["Content-Disposition"] = f'attachment; filename="outpost-scan-{scan.pk}.txt"'
            return response
        if fmt in ("csv", "sarif"):
            return scan_export_response(scan, fmt)
        if fmt != "json":
            raise serializers.ValidationError({"format": ["One of json, table, csv, sarif."]})
        if "format" in request.query_params:
            # Asked for by name, JSON is an export like the others: the scan with its results.
            return Response(
                ScanResultsSerializer(scan).data,
                headers={
                    "Content-Disposition": f'attachment; filename="outpost-scan-{scan.pk}.json"'
                },
            )
        return Response(ScanDetailSerializer(scan).data)

    @extend_schema(
        summary="Delete a finished scan with its findings and artifact files",
        responses={204: None, **ERRORS},
    )
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        services.scan_delete(scan=self.get_object(), user=user_of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Cancel a queued or running scan",
        request=None,
        responses={200: ScanListSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        scan = services.scan_cancel(scan=self.get_object(), user=user_of(request))
        return Response(ScanListSerializer(scan).data)

    @extend_schema(
        summary="The scan's log, oldest first (paginated)",
        parameters=[
            OpenApiParameter("step", str, description="node id"),
            OpenApiParameter("level", str, enum=ScanLog.Level.values),
        ],
        responses={200: ScanLogSerializer(many=True), **ERRORS},
    )
    @action(detail=True, methods=["get"])
    def logs(self, request: Request, pk: str | None = None) -> Response:
        scan = self.get_object()
        qs = ScanLog.objects.filter(scan=scan).select_related("step").order_by("created_at", "pk")
        if request.query_params.get("step"):
            qs = qs.filter(step__node_id=request.query_params["step"])
        if request.query_params.get("level"):
            qs = qs.filter(level=request.query_params["level"])
        return paginated_response(self, qs, ScanLogSerializer)

    @extend_schema(
        summary="The scan's findings, worst first (paginated)",
        parameters=[OpenApiParameter("severity", str, enum=Severity.values)],
        responses={200: FindingSerializer(many=True), **ERRORS},
    )
    @action(detail=True, methods=["get"])
    def findings(self, request: Request, pk: str | None = None) -> Response:
        scan = self.get_object()
        qs = (
            Finding.objects.filter(scan=scan)
            .annotate(rank=severity_rank_expression())
            .order_by("-rank", "title", "pk")
        )
        severity = choice_param(request.query_params, "severity", Severity.values)
        if severity:
            qs = qs.filter(severity=severity)
        return paginated_response(
            self, qs, FindingSerializer, lambda page: findings_decorate(scan.team, page)
        )

    @extend_schema(
        summary="New, fixed and still-open findings against the previous completed scan of the same workflow and targets",
        responses={200: ScanDiffSerializer, **ERRORS},
    )
    @action(detail=True, methods=["get"])
    def diff(self, request: Request, pk: str | None = None) -> Response:
        return Response(_diff_response(self.get_object()))

    @extend_schema(
        summary="The scan's PDF report: 200 with the PDF when ready, else 202 + Location while a "
        "worker renders it (GET starts one if none exists; POST always renders a new one)",
        request=None,
        responses={
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY),
            202: OpenApiResponse(OpenApiTypes.OBJECT, description="{report, status}"),
            **ERRORS,
        },
    )
    @action(detail=True, methods=["get", "post"], url_path="report.pdf")
    def report_pdf(self, request: Request, pk: str | None = None) -> Any:

        return report_pdf_response(
            scan=self.get_object(),
            user=user_of(request),
            force=request.method == "POST",
        )


class DockerScanSerializer(StrictSerializer):
    image = serializers.CharField(max_length=500)
    authorize_targets = ConsentField(
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
        data = validated_body(DockerScanSerializer, request)
        scan = services.scan_start_image(
            team=team_of(request), user=user_of(request), image=data["image"],
            consent=data["authorize_targets"], request=request._request,
        )  # fmt: skip
        return Response(
            {"scan_id": scan.pk, "status": "pending"},
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": f"/api/v1/scans/{scan.pk}"},
        )


# --- Routes (mounted under /api/v1/ by config.urls) ------------------------------------------

router = SimpleRouter(trailing_slash=False)
router.register("scans", ScanViewSet, basename="scan")
router.register("findings", FindingViewSet, basename="finding")
router.register("assets", AssetViewSet, basename="asset")

urlpatterns = [
    path("scans/import", ScanImportView.as_view(), name="scan-import"),
    path("scans/import/tools", ImportToolsView.as_view(), name="scan-import-tools"),
    path("scans/import/detect", ImportIdentifyView.as_view(), name="scan-import-detect"),
    path("scan/docker", DockerScanView.as_view(), name="scan-docker"),
    path("scans/<int:pk>/assets", ScanAssetsView.as_view(), name="scan-assets"),
    path("metrics", MetricsView.as_view(), name="team-metrics"),
    *router.urls,
]
