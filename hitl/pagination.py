"""How the API pages a list that grows: `?page=` and `?page_size=` (100 by default, at most
1,000), answered as `{count, next, previous, results}`."""

from collections.abc import Sequence
from typing import Any

from django.db.models import QuerySet
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.views import APIView


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 1_000

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
