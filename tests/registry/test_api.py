"""GET /v1/compliance/registries: the loaded registries, for every role of every tenant; and no route of the
API, for any role, changes a registry (the operator loads them with `engage registry import`)."""

from __future__ import annotations

import httpx
import pytest
from fastapi.routing import iter_route_contexts

from engage.config import Settings
from engage.core.clock import ManualClock, isoformat_z
from engage.core.principal import Role
from engage.core.runtime import Runtime
from engage.main import create_app
from engage.tenancy.models import Tenant
from engage.users.models import User

from ..factories import Factory
from ..problems import assert_problem
from .conftest import Registries

PATH = "/v1/compliance/registries"


class TestListRegistries:
    async def test_lists_each_loaded_registry_in_jurisdiction_order_with_its_load_time_and_count(
        self, client: httpx.AsyncClient, factory: Factory, admin: User, registries: Registries, clock: ManualClock
    ) -> None:
        qa, bh = await registries.use("QA"), await registries.use("BH")
        await registries.import_lines(qa, ["+97433123451", "+97433123452", "+97433123453"])
        first_loaded_at = clock.now()
        clock.advance(3600)
        await registries.import_lines(bh, ["+97333123451"])

        response = await client.get(PATH, headers=factory.headers(admin))

        assert response.status_code == 200, response.text
        items = response.json()["items"]
        assert list(response.json()) == ["items"]
        assert [item["jurisdiction"] for item in items] == sorted(item["jurisdiction"] for item in items)
        mine = [item for item in items if item["jurisdiction"] in (qa, bh)]
        assert mine == [
            {"jurisdiction": "BH", "loaded_at": isoformat_z(clock.now()), "count": 1},
            {"jurisdiction": "QA", "loaded_at": isoformat_z(first_loaded_at), "count": 3},
        ]

    async def test_a_jurisdiction_never_loaded_is_not_listed(
        self, client: httpx.AsyncClient, factory: Factory, admin: User, registries: Registries
    ) -> None:
        om = await registries.use("OM")

        response = await client.get(PATH, headers=factory.headers(admin))

        assert response.status_code == 200, response.text
        assert om not in [item["jurisdiction"] for item in response.json()["items"]]

    @pytest.mark.parametrize("role", list(Role))
    async def test_every_role_of_every_tenant_reads_the_same_registries(
        self, client: httpx.AsyncClient, factory: Factory, tenant: Tenant, registries: Registries, role: Role
    ) -> None:
        kw = await registries.use("KW")
        await registries.import_lines(kw, ["+96555123451"])
        other = await factory.tenant(name="Globex")

        ours = await client.get(PATH, headers=factory.headers(await factory.user(tenant, role)))
        theirs = await client.get(PATH, headers=factory.headers(await factory.user(other, role)))

        assert ours.status_code == 200, ours.text
        assert {"jurisdiction": "KW", "loaded_at": isoformat_z(registries.clock.now()), "count": 1} in ours.json()[
            "items"
        ]
        assert theirs.json() == ours.json()

    async def test_without_a_token_is_401(self, client: httpx.AsyncClient) -> None:
        response = await client.get(PATH)

        assert_problem(response, 401, "unauthorized")


class TestNoRouteChangesARegistry:
    def test_every_route_whose_path_names_a_registry_is_get_only(self, settings: Settings, runtime: Runtime) -> None:
        app = create_app(settings, runtime=runtime)

        # Every route, included routers flattened, mounts and websockets too (their `methods` is None).
        routes = [(str(route.path), route.methods) for route in iter_route_contexts(app.routes)]

        assert [(path, methods) for path, methods in routes if "registr" in path.lower()] == [(PATH, {"GET"})]

    def test_the_openapi_document_offers_only_get_on_registries(self, settings: Settings, runtime: Runtime) -> None:
        paths = create_app(settings, runtime=runtime).openapi()["paths"]

        assert {path: list(operations) for path, operations in paths.items() if "registr" in path} == {PATH: ["get"]}

    @pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
    @pytest.mark.parametrize("path", [PATH, f"{PATH}/KW"])
    async def test_an_admin_sending_anything_but_get_gets_a_problem_and_changes_nothing(
        self,
        client: httpx.AsyncClient,
        factory: Factory,
        admin: User,
        registries: Registries,
        method: str,
        path: str,
    ) -> None:
        kw = await registries.use("KW")
        await registries.import_lines(kw, ["+96555123451"])

        response = await client.request(
            method, path, headers=factory.headers(admin), json={"jurisdiction": "KW", "phones": []}
        )

        if path == PATH:
            body = assert_problem(response, 405, "method-not-allowed")
            assert response.headers["allow"] == "GET"
            assert method in body["detail"]
        else:
            assert_problem(response, 404, "not-found")
        assert await registries.phones(kw) == ["+96555123451"]
