"""The API's JSON parser: DRF's, but a body nested too deeply is a 400, not a 500.

Python's json module recurses once per level: a body nested 100,000 levels deep raised
RecursionError, which DRF let through as a server error, and one nested 900 levels deep
parsed, then overflowed the stack where a serializer encoded it again (PATCH of a project's
`stopping_rule`). orjson stops at 1,024 levels with an ordinary decoding error (it also
refuses lone surrogates, which the database driver cannot encode), and no request of this API
nests more than a few levels, so a body past MAX_DEPTH is refused before a view sees it.
"""

import orjson
from rest_framework import parsers
from rest_framework.exceptions import ParseError

MAX_DEPTH = 32


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = orjson.loads(stream.read())
        except orjson.JSONDecodeError as error:
            raise ParseError(f"JSON parse error - {error}") from None
        if _deeper_than(data, MAX_DEPTH):
            raise ParseError(f"JSON parse error - nested more than {MAX_DEPTH} levels deep")
        return data


def _deeper_than(value: object, limit: int) -> bool:
    """Whether lists and objects nest more than `limit` levels, found without recursion."""
    stack = [(value, 1)] if isinstance(value, (dict, list)) else []
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


class UnreadBody(parsers.BaseParser):
    """Any body, left unread: the import view streams it from the request itself. DRF parses
    a body when anything asks for `request.POST`, as the CSRF check of a signed-in browser
    does; with no parser at all that was a 415 for the import page's upload."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None):
        return parsers.DataAndFiles({}, {})
