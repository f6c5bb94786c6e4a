"""How the API pages a list that grows: `?page=` and `?page_size=` (100 by default, at most
1,000), answered as `{count, next, previous, results}`."""

from rest_framework.pagination import PageNumberPagination


class Pagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 1_000
