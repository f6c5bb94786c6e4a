"""How the API pages a list that grows: `?page=` and `?page_size=` (100 by default, at most
1,000), answered as `{count, next, previous, results}`; or, for a list that may hold a
million rows (a project's items), keyset pages: `?cursor=` from the previous answer's `next`
or `previous`, answered as `{next, previous, results}`."""

from base64 import b64decode
from collections.abc import Sequence
from typing import Any

from django.db.models import QuerySet
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.request import Request
from rest_framework.views import APIView

from hitl.converters import DatabaseId


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 1_000
    query_parameters = ("page", "page_size")  # what annotation.api.base.ApiView lets through

    def paginate_queryset(
        self,
        queryset: QuerySet[Any, Any] | Sequence[Any],
        request: Request,
        view: APIView | None = None,
    ) -> list[Any] | None:
        """A page that is not a number is the caller's mistake (400, field `page`); a page
        past the end stays DRF's 404."""
        page = request.query_params.get(self.page_query_param)
        if page is not None and page not in self.last_page_strings and not _is_positive(page):
            raise ValidationError({self.page_query_param: ["a page is a whole number from 1"]})
        return super().paginate_queryset(queryset, request, view)


def _is_positive(number: str) -> bool:
    return number.isascii() and number.isdigit() and int(number) > 0


class KeysetPagination(CursorPagination):
    """Pages by id, each one after its cursor: page 1,000 of a million items is as fast as
    page 1 (an OFFSET reads and drops every row before it, 0.3 s at 1M). No count: counting
    a filtered million costs more than the page."""

    ordering = "id"
    page_size_query_param = "page_size"
    max_page_size = 1_000
    query_parameters = ("cursor", "page_size")

    def decode_cursor(self, request: Request):
        """A cursor the API did not write is the caller's mistake (400, field `cursor`): one
        that is not base64, or whose position is not an id (DRF would query with it)."""
        encoded = request.query_params.get(self.cursor_query_param)
        try:
            if encoded is not None:
                b64decode(encoded.encode("ascii"), validate=True)
            cursor = super().decode_cursor(request)
        except (NotFound, ValueError):
            cursor = None
        else:
            if cursor is None or _is_id(cursor.position):
                return cursor
        message = "not a cursor this list gave: use the `next` or `previous` link"
        raise ValidationError({self.cursor_query_param: [message]})


def _is_id(position: object) -> bool:
    """DRF's cursor holds the position as the text it decoded (typed otherwise)."""
    if position is None:
        return True
    return (
        isinstance(position, str) and _is_positive(position) and int(position) <= DatabaseId.LARGEST
    )
