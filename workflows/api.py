"""Workflows API: CRUD with revision checks, duplicate, validate, export/import, templates and
the node-type catalogue."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from django.utils.text import slugify
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import parsers, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from accounts.http import team_of, user_of
from accounts.models import Role
from config.pagination import paginated_response
from config.serializers import (
    NAME_SCHEMA,
    DetailSerializer,
    StrictSerializer,
    detail_responses,
    validated_body,
)
from workflows import services
from workflows.graph import graph_normalize, graph_order, graph_ordered, graph_validate
from workflows.models import Workflow
from workflows.nodes import node_types
from workflows.templates import TEMPLATES

# --- Serializers ---------------------------------------------------------------------------


class GraphErrorSerializer(serializers.Serializer):
    node = serializers.CharField(allow_null=True, help_text="The node id (null: the whole graph)")
    field = serializers.CharField(
        allow_null=True, help_text="The field (id, type, x, a config field, edges…)"
    )
    message = serializers.CharField()
    edge = inline_serializer(
        "GraphEdge",
        {"from": serializers.CharField(), "to": serializers.CharField()},
        required=False,
    )


class WorkflowSerializer(serializers.ModelSerializer):
    node_count = serializers.IntegerField(read_only=True)
    created_by = serializers.EmailField(source="created_by.email", read_only=True, allow_null=True)
    updated_by = serializers.EmailField(source="updated_by.email", read_only=True, allow_null=True)
    graph = serializers.SerializerMethodField(help_text="See the graph format in docs/workflows.md")
    problems = serializers.SerializerMethodField(
        help_text="What stops the workflow from running (empty: it can run)"
    )

    class Meta:
        model = Workflow
        fields = [
            "id", "name", "description", "graph", "revision", "node_count", "problems",
            "created_by", "updated_by", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields

    @extend_schema_field(serializers.JSONField())
    def get_graph(self, obj: Workflow) -> dict[str, Any]:
        return graph_ordered(obj.graph)

    @extend_schema_field(GraphErrorSerializer(many=True))
    def get_problems(self, obj: Workflow) -> list[dict[str, Any]]:
        return [e.to_dict() for e in graph_validate(obj.graph)]


class WorkflowCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=services.MAX_NAME_LENGTH, required=False)
    description = serializers.CharField(
        max_length=services.MAX_DESCRIPTION_LENGTH, required=False, allow_blank=True, default=""
    )
    graph = serializers.JSONField(
        required=False, help_text="See the graph format in docs/workflows.md"
    )
    template = serializers.ChoiceField(
        choices=list(TEMPLATES),
        required=False,
        help_text="Start from a built-in template instead of a graph",
    )

    class Meta:
        schema_extra = {
            "properties": {"name": NAME_SCHEMA},
            "anyOf": [{"required": ["name"]}, {"required": ["template"]}],
            "not": {"required": ["template", "graph"]},
        }

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "template" in attrs and "graph" in attrs:
            raise serializers.ValidationError(
                {"template": ["Give a template or a graph, not both."]}
            )
        if "template" not in attrs and not attrs.get("name"):
            raise serializers.ValidationError({"name": ["This field is required."]})
        return attrs


class WorkflowUpdateSerializer(StrictSerializer):
    """PUT: every field, and the revision the change was made on."""

    class Meta:
        schema_extra = {"properties": {"name": NAME_SCHEMA}}

    name = serializers.CharField(max_length=services.MAX_NAME_LENGTH)
    description = serializers.CharField(
        max_length=services.MAX_DESCRIPTION_LENGTH, allow_blank=True
    )
    graph = serializers.JSONField()
    revision = serializers.IntegerField(
        min_value=1, help_text="The revision this change was made on"
    )


class WorkflowPatchSerializer(StrictSerializer):
    """PATCH: any of the fields, and (always) the revision the change was made on."""

    class Meta:
        schema_extra = {"properties": {"name": NAME_SCHEMA}}

    name = serializers.CharField(max_length=services.MAX_NAME_LENGTH, required=False)
    description = serializers.CharField(
        max_length=services.MAX_DESCRIPTION_LENGTH, required=False, allow_blank=True
    )
    graph = serializers.JSONField(required=False)
    revision = serializers.IntegerField(
        min_value=1, help_text="The revision this change was made on"
    )


class DuplicateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=services.MAX_NAME_LENGTH, required=False)


class GraphSerializer(StrictSerializer):
    graph = serializers.JSONField()


class ValidationResultSerializer(serializers.Serializer):
    valid = serializers.BooleanField()
    errors = GraphErrorSerializer(many=True)  # type: ignore[assignment]
    graph = serializers.JSONField(
        allow_null=True, help_text="Canonical form (defaults applied) when valid"
    )
    order = serializers.ListField(
        child=serializers.CharField(), help_text="Topological order when valid"
    )


class TemplateSerializer(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    available = serializers.BooleanField(
        help_text="False when a node type it uses is not available here"
    )
    errors = GraphErrorSerializer(many=True)  # type: ignore[assignment]
    graph = serializers.JSONField()


class NodeTypeSerializer(serializers.Serializer):
    type = serializers.CharField()
    label = serializers.CharField()  # type: ignore[assignment]
    group = serializers.CharField()
    icon = serializers.CharField()
    help = serializers.CharField()
    available = serializers.BooleanField()
    unavailable_reason = serializers.CharField()
    accepts = serializers.ListField(child=serializers.CharField())
    emits = serializers.ListField(child=serializers.CharField())
    consumes_findings = serializers.BooleanField()
    config = serializers.ListField(
        child=serializers.DictField(), help_text="Config fields with defaults and limits"
    )


ERRORS = detail_responses(400, 401, 403, 404)


def invalid(exc: services.WorkflowInvalid) -> Response:
    return Response(
        {"detail": exc.summary, "errors": exc.as_errors()}, status=status.HTTP_400_BAD_REQUEST
    )


def stale(exc: services.StaleRevision) -> Response:
    return Response(
        {
            "detail": "stale revision: reload",
            "errors": {
                "revision": [
                    f"The workflow is at revision {exc.current}; reload it and apply your change again."
                ]
            },
            "revision": exc.current,
        },
        status=status.HTTP_409_CONFLICT,
    )


class IgnoreFormatQuery(DefaultContentNegotiation):
    """`?format=yaml` picks the export format here, not a DRF renderer."""

    def select_renderer(
        self, request: Request, renderers: Any, format_suffix: str | None = None
    ) -> Any:
        renderers = list(renderers)
        return renderers[0], renderers[0].media_type


def _raw_parser(media: str) -> type[parsers.BaseParser]:
    class RawDocumentParser(parsers.BaseParser):
        media_type = media

        def parse(
            self, stream: Any, media_type: str | None = None, parser_context: Any = None
        ) -> Any:
            return {"document": stream.read() if stream is not None else b""}

    return RawDocumentParser


YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")
IMPORT_PARSERS = [
    _raw_parser("application/json"),
    *(_raw_parser(t) for t in YAML_TYPES),
    parsers.MultiPartParser,
]

# --- Views ---------------------------------------------------------------------------------


@extend_schema(tags=["workflows"])
class WorkflowViewSet(viewsets.GenericViewSet):
    """The team's workflows. Writes need the analyst role; saves name the revision they were
    made on and are refused with 409 when another save came first."""

    serializer_class = WorkflowSerializer
    lookup_value_regex = r"\d+"
    action_roles = {"validate": Role.VIEWER}

    def get_queryset(self) -> QuerySet[Workflow]:
        return services.workflows_for(team_of(self.request)).select_related("created_by")

    @extend_schema(
        summary="List workflows (most recently changed first)",
        responses={200: WorkflowSerializer(many=True)},
    )
    def list(self, request: Request) -> Response:
        return paginated_response(self, self.get_queryset(), WorkflowSerializer)

    @extend_schema(
        summary="Create a workflow from a graph, or from a built-in template",
        request=WorkflowCreateSerializer,
        responses={201: WorkflowSerializer, **ERRORS},
    )
    def create(self, request: Request) -> Response:
        data = validated_body(WorkflowCreateSerializer, request)
        try:
            if "template" in data:
                workflow = services.workflow_create_from_template(
                    team=team_of(request),
                    user=user_of(request),
                    template_key=data["template"],
                    name=data.get("name"),
                )
            else:
                workflow = services.workflow_create(
                    team=team_of(request),
                    user=user_of(request),
                    name=data["name"],
                    description=data.get("description", ""),
                    graph=data.get("graph"),
                )
        except services.WorkflowInvalid as exc:
            return invalid(exc)
        return Response(WorkflowSerializer(workflow).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="A workflow with its graph", responses={200: WorkflowSerializer, **ERRORS}
    )
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return Response(WorkflowSerializer(self.get_object()).data)

    def _save(self, request: Request, body: type[StrictSerializer]) -> Response:
        data = validated_body(body, request)
        try:
            workflow = services.workflow_update(
                workflow=self.get_object(), user=user_of(request), **data
            )
        except services.WorkflowInvalid as exc:
            return invalid(exc)
        except services.StaleRevision as exc:
            return stale(exc)
        return Response(WorkflowSerializer(workflow).data)

    @extend_schema(
        summary="Replace name, description and graph (409 when `revision` is not the current one)",
        request=WorkflowUpdateSerializer,
        responses={200: WorkflowSerializer, 409: DetailSerializer, **ERRORS},
    )
    def update(self, request: Request, pk: str | None = None) -> Response:
        return self._save(request, WorkflowUpdateSerializer)

    @extend_schema(
        summary="Change some fields (409 when `revision` is not the current one)",
        request=WorkflowPatchSerializer,
        responses={200: WorkflowSerializer, 409: DetailSerializer, **ERRORS},
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        return self._save(request, WorkflowPatchSerializer)

    @extend_schema(
        summary="Delete a workflow (its scans are kept)", responses={204: None, **ERRORS}
    )
    def destroy(self, request: Request, pk: str | None = None) -> Response:
        services.workflow_delete(workflow=self.get_object(), user=user_of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Copy a workflow (revision 1, name 'Copy of …' unless given)",
        request=DuplicateSerializer,
        responses={201: WorkflowSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def duplicate(self, request: Request, pk: str | None = None) -> Response:
        name = validated_body(DuplicateSerializer, request).get("name")
        try:
            copy = services.workflow_duplicate(
                workflow=self.get_object(), user=user_of(request), name=name
            )
        except services.WorkflowInvalid as exc:
            return invalid(exc)
        return Response(WorkflowSerializer(copy).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Validate a graph without saving it (each error names its node and field)",
        request=GraphSerializer,
        responses={200: ValidationResultSerializer, **ERRORS},
    )
    @action(detail=False, methods=["post"])
    def validate(self, request: Request) -> Response:
        graph = validated_body(GraphSerializer, request)["graph"]
        errors = graph_validate(graph)
        normalized = graph_normalize(graph) if not errors else None
        return Response(
            {
                "valid": not errors,
                "errors": [e.to_dict() for e in errors],
                "graph": normalized,
                "order": graph_order(normalized) if normalized else [],
            }
        )

    @extend_schema(
        summary="Export a workflow as a JSON or YAML document (import gives it back exactly)",
        parameters=[OpenApiParameter("format", str, enum=[*services.FORMATS], default="json")],
        responses={
            (200, "application/json"): OpenApiResponse(
                OpenApiTypes.OBJECT, description="The export document"
            ),
            (200, "application/yaml"): OpenApiResponse(
                OpenApiTypes.STR, description="The export document"
            ),
            **ERRORS,
        },
    )
    @action(detail=True, methods=["get"], content_negotiation_class=IgnoreFormatQuery)
    def export(self, request: Request, pk: str | None = None) -> HttpResponse | Response:
        fmt = request.query_params.get("format", "json")
        if fmt not in services.FORMATS:
            return Response(
                {"detail": "format must be json or yaml", "errors": {"format": ["json or yaml"]}},
                status=400,
            )
        workflow = self.get_object()
        text = services.workflow_export(workflow, fmt)
        response = HttpResponse(text, content_type=f"application/{fmt}; charset=utf-8")
        filename = f"{slugify(workflow.name) or 'workflow'}.{'yaml' if fmt == 'yaml' else 'json'}"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    @extend_schema(
        operation_id="workflows_import",
        summary="Import an exported workflow: a JSON or YAML body (by Content-Type), or a multipart `file`",
        request={
            "application/json": OpenApiTypes.OBJECT,
            "application/yaml": OpenApiTypes.STR,
            "multipart/form-data": inline_serializer(
                "WorkflowImportUpload",
                {
                    "file": serializers.FileField(),
                    "format": serializers.ChoiceField(choices=services.FORMATS, required=False),
                },
            ),
        },
        responses={201: WorkflowSerializer, 413: DetailSerializer, **ERRORS},
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="import",
        url_name="import",
        parser_classes=IMPORT_PARSERS,
    )
    def import_(self, request: Request) -> Response:
        body: Any = request.data
        if "document" in body:
            data = body["document"]
            fmt = "json" if request.content_type.startswith("application/json") else "yaml"
        else:
            upload = body.get("file")
            if upload is None:
                return Response(
                    {"detail": "file: required", "errors": {"file": ["Required."]}}, status=400
                )
            if upload.size > services.IMPORT_MAX_BYTES:
                return Response(
                    {"detail": "file: too large", "errors": {"file": ["Too large."]}}, status=413
                )
            data = upload.read()
            fmt = body.get("format") or (
                "json" if upload.name.lower().endswith(".json") else "yaml"
            )
        try:
            workflow = services.workflow_import(
                team=team_of(request), user=user_of(request), data=data, fmt=str(fmt)
            )
        except services.WorkflowInvalid as exc:
            return invalid(exc)
        return Response(WorkflowSerializer(workflow).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary='Built-in templates (create one with POST /workflows {"template"})',
        responses={200: TemplateSerializer(many=True)},
    )
    @action(detail=False, methods=["get"], pagination_class=None)
    def templates(self, request: Request) -> Response:
        answer = []
        for template in TEMPLATES.values():
            errors = template.errors()
            answer.append(
                {
                    "key": template.key,
                    "name": template.name,
                    "description": template.description,
                    "available": not errors,
                    "errors": [e.to_dict() for e in errors],
                    "graph": template.graph(),
                }
            )
        return Response(answer)

    @extend_schema(
        summary="Node types: groups, accepted and emitted item kinds, config schema",
        responses={200: NodeTypeSerializer(many=True)},
    )
    @action(detail=False, methods=["get"], url_path="node-types", pagination_class=None)
    def node_types(self, request: Request) -> Response:
        return Response([node.describe() for node in node_types()])


# --- Routes (mounted under /api/v1/ by config.urls) ------------------------------------------

router = SimpleRouter(trailing_slash=False)
router.register("workflows", WorkflowViewSet, basename="workflow")

urlpatterns = [*router.urls]
