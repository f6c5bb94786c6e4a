import re

import pytest

pytestmark = pytest.mark.django_db


def test_the_openapi_schema_describes_the_contract(api_client, annotator):
    api_client.force_authenticate(annotator)
    response = api_client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    for path in [
        "/api/v1/projects/",
        "/api/v1/projects/{project_id}/items/import/",
        "/api/v1/projects/{project_id}/next/",
        "/api/v1/items/{item_id}/annotations/",
        "/api/v1/projects/{project_id}/export/",
        "/api/v1/imports/{job_id}/",
        "/api/v1/projects/{project_id}/agreement/",
        "/api/v1/projects/{project_id}/annotators/",
        "/api/v1/projects/{project_id}/label-issues/",
        "/api/v1/projects/{project_id}/review/next/",
        "/api/v1/items/{item_id}/review/",
        "/api/v1/items/{item_id}/history/",
        "/api/v1/items/{item_id}/gold/",
    ]:
        assert path in schema["paths"], path


def test_the_docs_page_loads_its_files_from_this_server_only(client, annotator):
    client.force_login(annotator)
    response = client.get("/api/v1/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources
    assert not [url for url in sources if url.startswith(("http:", "https:", "//"))]
