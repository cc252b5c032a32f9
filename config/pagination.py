from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response

if TYPE_CHECKING:  # DRF's generics read the settings, which name the class below
    from rest_framework.generics import GenericAPIView


class Pagination(PageNumberPagination):
    """`?page=N&page_size=M` (at most 500 per page). A page size that is not a whole number of at
    least 1 is a 400 naming it (DRF's own quietly falls back to the default: `page_size=true`
    answered 50 rows); a page past the end is a 404 ("Invalid page.")."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request: Request) -> int | None:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isascii() or not raw.isdigit() or int(raw) < 1:
            raise serializers.ValidationError(
                {"page_size": [f"A whole number from 1 to {self.max_page_size}."]}
            )
        return min(int(raw), self.max_page_size or int(raw))

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] in (self.page_query_param, self.page_size_query_param):
                parameter["schema"]["minimum"] = 1
        return parameters


def paginated_response(
    view: GenericAPIView,
    rows: Any,
    serializer_class: type[serializers.BaseSerializer],
    decorate: Callable[[list[Any]], list[Any]] | None = None,
) -> Response:
    """One page of `rows` in the view's pagination (`?page`, `?page_size`), written by
    `serializer_class`; `decorate` adds to the page's rows what the serializer reads."""
    page = list(view.paginate_queryset(rows) or [])
    return view.get_paginated_response(
        serializer_class(decorate(page) if decorate else page, many=True).data
    )
