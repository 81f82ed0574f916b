"""The OpenAPI document states what the API really does: every operation's problem responses with the `Problem`
schema, no FastAPI default 422, bounds on every page size, `format: uuid` on every id in a path, stable operation ids
and links between the main operations (core/openapi.py)."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from pydantic import SecretStr

from engage.config import JwtSettings, Settings
from engage.core.errors import PROBLEM_MEDIA_TYPE
from engage.main import create_app

PROBLEM_REF = "#/components/schemas/Problem"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return create_app(Settings(jwt=JwtSettings(secret=SecretStr(secrets.token_urlsafe(40))))).openapi()


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def test_the_document_is_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")


def test_every_client_error_is_a_problem_with_the_problem_schema(document: dict[str, Any]) -> None:
    for method, path, operation in _operations(document):
        for status, response in operation["responses"].items():
            if status.startswith("4"):
                content = response.get("content", {})
                assert set(content) == {PROBLEM_MEDIA_TYPE}, (method, path, status)
                assert content[PROBLEM_MEDIA_TYPE]["schema"] == {"$ref": PROBLEM_REF}, (method, path, status)


def test_every_operations_section_is_declared_so_docs_keep_their_order(document: dict[str, Any]) -> None:
    # Routers are included hottest first (main.create_app); the declared `tags` keep /docs in reading order.
    declared = [tag["name"] for tag in document["tags"]]
    used = {tag for _, _, operation in _operations(document) for tag in operation.get("tags", [])}
    assert used == set(declared)
    assert declared[:3] == ["operations", "auth", "users"]


def test_no_operation_keeps_fastapis_default_422(document: dict[str, Any]) -> None:
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for method, path, operation in _operations(document):
        if "422" in operation["responses"]:
            # The seed's 422: a body carrying tenant_id (or a referenced resource that is not the tenant's).
            assert "requestBody" in operation, (method, path)


def test_authenticated_operations_list_401_403_and_429(document: dict[str, Any]) -> None:
    public = {("POST", "/v1/auth/login"), ("POST", "/v1/auth/refresh"), ("POST", "/v1/auth/logout")}
    # Every role may ask who it is: no permission to refuse, so no 403.
    every_role = {("GET", "/v1/auth/me")}
    for method, path, operation in _operations(document):
        if not path.startswith("/v1/") or (method, path) in public:
            continue
        expected = {"401", "429"} if (method, path) in every_role else {"401", "403", "429"}
        assert expected <= set(operation["responses"]), (method, path)
        assert "RateLimit-Remaining" in operation["responses"]["429"]["headers"]


def test_parameters_and_bodies_list_400_and_path_ids_list_404(document: dict[str, Any]) -> None:
    for method, path, operation in _operations(document):
        parameters = operation.get("parameters", [])
        if parameters or "requestBody" in operation:
            assert "400" in operation["responses"], (method, path)
        if any(p["in"] == "path" for p in parameters):
            assert "404" in operation["responses"], (method, path)


def test_every_limit_is_bounded_from_1_to_its_maximum_and_every_cursor_is_opaque_and_short(
    document: dict[str, Any],
) -> None:
    limits = 0
    for method, path, operation in _operations(document):
        for parameter in operation.get("parameters", []):
            schema = parameter["schema"]
            if parameter["name"] == "limit":
                limits += 1
                assert schema["minimum"] == 1, (method, path)
                # The seed: campaigns page by at most 100, every other list by at most 200.
                assert schema["maximum"] == (100 if path == "/v1/campaigns" else 200), (method, path)
            if parameter["name"] == "cursor":
                assert schema["maxLength"] == 128
                assert schema["pattern"] == "^[A-Za-z0-9_-]*$"
    assert limits >= 10


def test_every_id_in_a_path_is_a_uuid(document: dict[str, Any]) -> None:
    for method, path, operation in _operations(document):
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "path" and parameter["name"].endswith("_id"):
                assert parameter["schema"]["format"] == "uuid", (method, path)
                assert parameter["schema"]["type"] == "string", (method, path)


def test_operation_ids_are_the_route_names_and_unique(document: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, _, operation in _operations(document)]
    assert len(ids) == len(set(ids))
    assert document["paths"]["/v1/campaigns/{campaign_id}"]["get"]["operationId"] == "get_campaign"


def test_creating_a_campaign_links_to_reading_updating_and_starting_it(document: dict[str, Any]) -> None:
    links = document["paths"]["/v1/campaigns"]["post"]["responses"]["201"]["links"]
    ids = {operation["operationId"] for _, _, operation in _operations(document)}

    assert {"get_campaign", "update_campaign", "start_campaign"} <= set(links)
    assert links["get_campaign"]["parameters"] == {"campaign_id": "$response.body#/id"}
    for _, _, operation in _operations(document):
        for response in operation["responses"].values():
            for link in response.get("links", {}).values():
                assert link["operationId"] in ids


def test_the_problem_schema_is_what_errors_render(document: dict[str, Any]) -> None:
    problem = document["components"]["schemas"]["Problem"]
    assert set(problem["required"]) == {"type", "title", "status", "detail", "instance"}
    assert "errors" in problem["properties"]
    assert problem["additionalProperties"] is True


def test_patch_fields_that_refuse_null_are_not_nullable(document: dict[str, Any]) -> None:
    name = document["components"]["schemas"]["CampaignUpdate"]["properties"]["name"]
    assert name["type"] == "string"
    assert "anyOf" not in name
