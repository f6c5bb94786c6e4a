"""The API's view base: query parameters declared, checked before the view runs."""

from typing import Any

from rest_framework.request import Request
from rest_framework.views import APIView

from annotation.api.serializers import NoQuery, QueryInput
from hitl.pagination import KeysetPagination, Pagination


class ApiView(APIView):
    """A view whose query parameters are those `query_class` declares (none by default; the
    page's too with a `pagination_class`): any other is a 400 naming it, a bad value a 400
    naming the parameter. The schema lists them (annotation.api.schema)."""

    query_class: type[QueryInput] = NoQuery
    pagination_class: type[Pagination] | type[KeysetPagination] | None = None
    query: QueryInput  # the checked parameters: self.query.validated_data

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # the caller is known first: 401 before 400
        paging = self.pagination_class.query_parameters if self.pagination_class else ()
        self.query = self.query_class(data=request.query_params, context={"also": paging})
        self.query.is_valid(raise_exception=True)
