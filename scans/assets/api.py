"""Inventory API: `GET /api/v1/assets` (the page's filters, keyset cursor pages), `GET
/api/v1/assets/{id}` (relations, findings, history), `GET /api/v1/assets/export` (CSV or JSON of
the filtered list), `POST /api/v1/assets/targets` (add as targets or exclude, in bulk) and
`GET /api/v1/scans/{id}/assets` (what a scan saw, with its change set). Routes are mounted by
scans.api."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.http import team_of, user_of
from accounts.models import Role
from config.serializers import (
    ListedRowsMixin,
    StrictSerializer,
    choice_param,
    detail_responses,
    validated_body,
)
from scans.assets.actions import ACTIONS, MAX_ASSETS, assets_to_targets
from scans.assets.exports import assets_export_response
from scans.assets.queries import (
    MAX_PAGE_SIZE,
    PAGE_SIZE,
    SORT_LABELS,
    AssetFilterForm,
    BadCursor,
    asset_page,
    asset_relations,
    assets_for_team,
    scan_changes,
)
from scans.findings.diff import scan_previous
from scans.models import Asset, AssetKind, Scan, ScanAsset

ERRORS = detail_responses(400, 401, 403, 404)


class AssetSerializer(ListedRowsMixin, serializers.ModelSerializer):
    state = serializers.SerializerMethodField()

    class Meta:
        model = Asset
        fields = [
            "id", "kind", "value", "state", "in_scope", "port", "status_code", "attrs", "parent",
            "certificate", "open_findings", "first_seen_at", "last_seen_at", "first_scan",
            "last_scan", "gone_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_state(self, asset: Asset) -> str:
        return "gone" if asset.gone_at else "live"


class AssetBriefSerializer(ListedRowsMixin, serializers.ModelSerializer):
    class Meta:
        model = Asset
        fields = ["id", "kind", "value", "port", "status_code", "in_scope", "gone_at"]
        read_only_fields = fields


class AssetLinkSerializer(serializers.Serializer):
    relation = serializers.CharField()
    direction = serializers.ChoiceField(choices=["out", "in"])
    asset = AssetBriefSerializer()


class AssetFindingSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    severity = serializers.CharField()
    title = serializers.CharField()
    rule_id = serializers.CharField()
    tool = serializers.CharField()
    status = serializers.CharField()
    location = serializers.CharField()
    scan = serializers.IntegerField(source="scan_id")


class AssetEventSerializer(serializers.Serializer):
    created_at = serializers.DateTimeField()
    kind = serializers.CharField(help_text="first_seen, changed, gone or reappeared")
    changes = serializers.DictField(help_text="{attribute: [before, after]}")
    scan = serializers.IntegerField(allow_null=True)


class SightingSerializer(serializers.Serializer):
    scan = serializers.IntegerField(source="scan_id")
    change = serializers.CharField()


class AssetDetailSerializer(AssetSerializer):
    ancestors = serializers.SerializerMethodField()
    children = serializers.SerializerMethodField()
    certificate_asset = serializers.SerializerMethodField()
    served_by = serializers.SerializerMethodField()
    links = serializers.SerializerMethodField()
    findings = serializers.SerializerMethodField()
    history = serializers.SerializerMethodField()
    sightings = serializers.SerializerMethodField()

    class Meta(AssetSerializer.Meta):
        fields = [
            *AssetSerializer.Meta.fields, "ancestors", "children", "certificate_asset",
            "served_by", "links", "findings", "history", "sightings",
        ]  # fmt: skip
        read_only_fields = fields

    def _relations(self, asset: Asset) -> Any:
        context: dict[str, Any] = self.context  # type: ignore[assignment]
        if "relations" not in context:
            context["relations"] = asset_relations(asset)
        return context["relations"]

    @extend_schema_field(AssetBriefSerializer(many=True))
    def get_ancestors(self, asset: Asset) -> Any:
        return AssetBriefSerializer(self._relations(asset).ancestors, many=True).data

    @extend_schema_field(AssetBriefSerializer(many=True))
    def get_children(self, asset: Asset) -> Any:
        return AssetBriefSerializer(self._relations(asset).children, many=True).data

    @extend_schema_field(AssetSerializer(allow_null=True))
    def get_certificate_asset(self, asset: Asset) -> Any:
        cert = self._relations(asset).certificate
        return AssetSerializer(cert).data if cert else None

    @extend_schema_field(AssetBriefSerializer(many=True))
    def get_served_by(self, asset: Asset) -> Any:
        return AssetBriefSerializer(self._relations(asset).served_by, many=True).data

    @extend_schema_field(AssetLinkSerializer(many=True))
    def get_links(self, asset: Asset) -> Any:
        relations = self._relations(asset)
        links = [
            {"relation": link.relation, "direction": "out", "asset": link.target}
            for link in relations.links_out
        ]
        links += [
            {"relation": link.relation, "direction": "in", "asset": link.source}
            for link in relations.links_in
        ]
        return AssetLinkSerializer(links, many=True).data

    @extend_schema_field(AssetFindingSerializer(many=True))
    def get_findings(self, asset: Asset) -> Any:
        return AssetFindingSerializer(self._relations(asset).findings, many=True).data

    @extend_schema_field(AssetEventSerializer(many=True))
    def get_history(self, asset: Asset) -> Any:
        events = [
            {"created_at": e.created_at, "kind": e.kind, "changes": e.changes, "scan": e.scan_id}
            for e in self._relations(asset).events
        ]
        events.append(
            {"created_at": asset.first_seen_at, "kind": "first_seen", "changes": {}, "scan": asset.first_scan_id}
        )  # fmt: skip
        return AssetEventSerializer(events, many=True).data

    @extend_schema_field(SightingSerializer(many=True))
    def get_sightings(self, asset: Asset) -> Any:
        return SightingSerializer(self._relations(asset).sightings, many=True).data


class CursorPageSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = AssetSerializer(many=True)


FILTER_PARAMETERS = [
    OpenApiParameter("kind", str, enum=AssetKind.values, description="One kind (a tab of the page)"),
    OpenApiParameter("q", str, description="Text in the asset's value"),
    OpenApiParameter("port", {"type": "integer", "minimum": 1, "maximum": 65535}),
    OpenApiParameter("technology", str, description="Assets a technology (by name) was found on"),
    OpenApiParameter(
        "status",
        {"type": "integer", "minimum": 100, "maximum": 999},
        description="A URL's HTTP status code",
    ),
    OpenApiParameter("seen_since", OpenApiTypes.DATETIME, description="First seen at or after"),
    OpenApiParameter("scope", str, enum=["in", "out"], description="in scope, or out-of-scope leads"),
    OpenApiParameter("has_findings", bool, description="With open findings (true) or without"),
    OpenApiParameter("state", str, enum=["live", "gone"]),
    OpenApiParameter("scan", {"type": "integer", "minimum": 1}, description="Assets this scan saw"),
    OpenApiParameter("sort", str, enum=list(SORT_LABELS)),
]  # fmt: skip
PAGE_PARAMETERS = [
    OpenApiParameter("cursor", str, description="`next` or `previous` of the page before"),
    OpenApiParameter(
        "page_size",
        {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
        description=f"1-{MAX_PAGE_SIZE} (default {PAGE_SIZE})",
    ),
]


def _filters(request: Request) -> dict[str, Any]:
    form = AssetFilterForm(request.query_params)
    if not form.is_valid():
        raise serializers.ValidationError(form.errors.get_json_data())
    return form.filters()


def _page_size(request: Request) -> int:
    raw = request.query_params.get("page_size") or PAGE_SIZE
    try:
        size = int(raw)
    except (TypeError, ValueError):
        raise serializers.ValidationError({"page_size": ["Must be an integer."]}) from None
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise serializers.ValidationError({"page_size": [f"Must be 1-{MAX_PAGE_SIZE}."]})
    return size


def _link(request: Request, cursor: str | None) -> str | None:
    if cursor is None:
        return None
    params = [
        (k, v)
        for k in request.query_params
        for v in request.query_params.getlist(k)
        if k != "cursor"
    ]
    return request.build_absolute_uri(request.path + "?" + urlencode([*params, ("cursor", cursor)]))


def _cursor_page(request: Request, qs: QuerySet[Asset], sort: str) -> Any:
    try:
        return asset_page(
            qs, sort=sort, cursor=request.query_params.get("cursor"), size=_page_size(request)
        )
    except BadCursor as exc:
        raise serializers.ValidationError({"cursor": [str(exc)]}) from None


class TargetsActionSerializer(StrictSerializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1), min_length=1, max_length=MAX_ASSETS,
        help_text=f"Asset ids (at most {MAX_ASSETS}); a service stands for its host",
    )  # fmt: skip
    action = serializers.ChoiceField(choices=list(ACTIONS), help_text="add as targets, or exclude")
    note = serializers.CharField(required=False, allow_blank=True, max_length=500)


class TargetsActionResultSerializer(serializers.Serializer):
    report = serializers.DictField(allow_null=True, help_text="The targets bulk import's report")
    skipped = serializers.ListField(child=serializers.DictField())
    not_found = serializers.ListField(child=serializers.IntegerField())


@extend_schema(tags=["assets"])
@extend_schema_view(
    retrieve=extend_schema(
        summary="One asset with its relations (parents, children, certificate, links), its "
        "latest findings, its history and the scans that saw it",
        responses={200: AssetDetailSerializer, **ERRORS},
    )
)
class AssetViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """The team's inventory. Another team's assets are 404."""

    serializer_class = AssetDetailSerializer
    action_roles = {"targets": Role.ANALYST}
    # The list pages by keyset cursor itself (CursorPageSerializer), not by DRF's page numbers.
    pagination_class = None
    list_answers_a_page = True

    def get_queryset(self) -> QuerySet[Asset]:
        return Asset.objects.filter(team=team_of(self.request)).select_related("certificate")

    @extend_schema(
        operation_id="assets_list",
        summary="The inventory, filtered and sorted, in keyset pages (follow `next`)",
        parameters=[*FILTER_PARAMETERS, *PAGE_PARAMETERS],
        responses={200: CursorPageSerializer, **ERRORS},
    )
    def list(self, request: Request) -> Response:
        filters = _filters(request)
        page = _cursor_page(
            request, assets_for_team(team_of(request), **filters), filters.get("sort", "-last_seen")
        )
        return Response(
            {
                "next": _link(request, page.next_cursor),
                "previous": _link(request, page.previous_cursor),
                "results": AssetSerializer(page.rows, many=True).data,
            }
        )

    @extend_schema(
        summary="The filtered inventory as CSV or JSON (streamed)",
        parameters=[*FILTER_PARAMETERS, OpenApiParameter("format", str, enum=["csv", "json"])],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR),
            (200, "application/json"): OpenApiResponse(
                {"type": "array", "items": {"type": "object"}}, description="One object per asset"
            ),
            **ERRORS,
        },
    )
    @action(detail=False, methods=["get"])
    def export(self, request: Request) -> Any:
        fmt = request.query_params.get("format", "csv")
        if fmt not in ("csv", "json"):
            raise serializers.ValidationError({"format": ["One of csv, json."]})
        return assets_export_response(assets_for_team(team_of(request), **_filters(request)), fmt)

    @extend_schema(
        summary=f"Add up to {MAX_ASSETS} assets as targets, or exclude them",
        request=TargetsActionSerializer,
        responses={200: TargetsActionResultSerializer, **ERRORS},
    )
    @action(detail=False, methods=["post"])
    def targets(self, request: Request) -> Response:
        data = validated_body(TargetsActionSerializer, request)
        result = assets_to_targets(
            team=team_of(request), user=user_of(request), asset_ids=data["ids"],
            action=data["action"], note=data.get("note", ""),
        )  # fmt: skip
        return Response(result.to_dict())


class ScanAssetSerializer(serializers.Serializer):
    change = serializers.CharField(help_text="new, reappeared, changed, seen or gone")
    asset = AssetSerializer()


class ScanAssetsSerializer(serializers.Serializer):
    scan = serializers.IntegerField()
    previous_scan = serializers.IntegerField(allow_null=True, help_text="Compared with (gone)")
    summary = serializers.CharField(help_text='"+3 services, -1 URL, 2 changed"')
    total = serializers.IntegerField(help_text="Assets the scan saw (and gone ones)")
    counts = serializers.DictField(
        child=serializers.DictField(child=serializers.IntegerField()),
        help_text="{change: {kind: n}}",
    )
    next = serializers.URLField(allow_null=True)
    results = ScanAssetSerializer(many=True)


class ScanAssetsView(APIView):
    """What one scan saw: the change set's counts, and its sightings in pages (by asset id)."""

    @extend_schema(
        tags=["scans"],
        summary="The assets a scan saw, with its change set against the previous scan of the "
        "same scope (new, reappeared, changed, seen, gone)",
        parameters=[
            OpenApiParameter("change", str, enum=ScanAsset.Change.values),
            OpenApiParameter("kind", str, enum=AssetKind.values),
            OpenApiParameter("after", int, description="The last asset id of the page before"),
            PAGE_PARAMETERS[1],
        ],
        responses={200: ScanAssetsSerializer, **ERRORS},
    )
    def get(self, request: Request, pk: int) -> Response:
        scan = get_object_or_404(Scan, pk=pk, team=team_of(request))
        params = request.query_params
        rows = ScanAsset.objects.filter(scan=scan).select_related("asset")
        for name, choices in (("change", ScanAsset.Change.values), ("kind", AssetKind.values)):
            if choice_param(params, name, choices):
                rows = rows.filter(**{name: params[name]})
        after = params.get("after") or "0"
        if not after.isdigit():
            raise serializers.ValidationError({"after": ["An asset id."]})
        size = _page_size(request)
        page = list(rows.filter(asset_id__gt=int(after)).order_by("asset_id")[: size + 1])
        changes = scan_changes(scan, limit=0)
        previous = scan_previous(scan)
        next_link = None
        if len(page) > size:
            page = page[:size]
            query = [(k, v) for k in params for v in params.getlist(k) if k != "after"]
            next_link = request.build_absolute_uri(
                request.path + "?" + urlencode([*query, ("after", page[-1].asset_id)])
            )
        return Response(
            {
                "scan": scan.pk,
                "previous_scan": previous.pk if previous else None,
                "summary": changes.summary(),
                "total": changes.total,
                "counts": changes.counts,
                "next": next_link,
                "results": ScanAssetSerializer(
                    [{"change": r.change, "asset": r.asset} for r in page], many=True
                ).data,
            }
        )
