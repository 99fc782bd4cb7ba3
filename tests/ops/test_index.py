"""/api: the front door answers with links to the docs, the OpenAPI document and health."""


def test_api_answers_with_links_that_all_resolve(client, app_ctx):
    response = client.get("/api")

    assert response.status_code == 200
    body = response.get_json()
    assert body["message"]
    assert body["data"]["title"] == "Evently API"
    links = body["data"]["links"]
    assert {"docs": "/api/docs", "openapi": "/api/openapi.json", "health": "/healthz"}.items() <= links.items()
    for name, path in links.items():
        with client.get(path) as linked:
            assert linked.status_code == 200, name


def test_the_index_is_in_the_openapi_document(client, app_ctx):
    document = client.get("/api/openapi.json").get_json()

    assert "200" in document["paths"]["/api"]["get"]["responses"]


def test_swagger_ui_assets_come_from_this_origin(client, app_ctx):
    page = client.get("/api/docs").get_data(as_text=True)

    assert "http" not in page  # no CDN, no other origin
    for asset in ("/api/docs/swagger-ui.css", "/api/docs/swagger-ui-bundle.js", "/api/docs/evently/swagger-initializer.js"):
        assert asset in page
        with client.get(asset) as response:
            assert response.status_code == 200, asset
            assert len(response.data) > 500, asset


def test_unknown_docs_assets_are_a_json_404(client, app_ctx):
    for path in ("/api/docs/nope.js", "/api/docs/../config.py", "/api/docs/%2e%2e/config.py"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.get_json()["error"]["code"] == "NOT_FOUND"
