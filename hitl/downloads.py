"""A file the API streams to a client to save (exports, predictions, the audit log)."""

from collections.abc import Iterator

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes


def attachment(
    chunks: Iterator[bytes], *, content_type: str, filename: str
) -> StreamingHttpResponse:
    """Stream `chunks` as a download named `filename` (memory holds one chunk at a time)."""
    response = StreamingHttpResponse(chunks, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def downloads(content_types: dict[str, str]) -> dict:
    """The schema's 200 response of a download in each of these media types: a JSON file is
    an array of records, any other a file."""
    return {
        (200, media_type): _JSON_RECORDS
        if media_type == "application/json"
        else OpenApiTypes.BINARY
        for media_type in content_types.values()
    }


_JSON_RECORDS = {"type": "array", "items": {"type": "object"}}
