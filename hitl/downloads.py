"""A file the API streams to a client to save (exports, predictions, the audit log)."""

from collections.abc import Iterator

from django.http import StreamingHttpResponse


def attachment(
    chunks: Iterator[bytes], *, content_type: str, filename: str
) -> StreamingHttpResponse:
    """Stream `chunks` as a download named `filename` (memory holds one chunk at a time)."""
    response = StreamingHttpResponse(chunks, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
