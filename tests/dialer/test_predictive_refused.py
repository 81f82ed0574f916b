"""Until the predictive pacer lands, a predictive campaign cannot start: a 409 that says so, and nothing changes."""

from __future__ import annotations

import httpx

from engage.core.principal import Role
from engage.core.runtime import Runtime

from ..factories import Factory
from ..problems import assert_problem
from .conftest import Reader, make_floor


class TestPredictiveStart:
    async def test_starting_a_predictive_campaign_is_a_409_and_it_stays_draft(
        self, client: httpx.AsyncClient, factory: Factory, runtime: Runtime, reader: Reader
    ) -> None:
        floor = await make_floor(factory, runtime, contacts_count=1, agents_count=1, mode="predictive", start=False)
        admin = await factory.user(floor.tenant, Role.admin)

        response = await client.post(f"/v1/campaigns/{floor.campaign_id}/start", headers=factory.headers(admin))

        body = assert_problem(response, 409, "dialing-mode-not-available")
        assert "Predictive dialling is not available yet" in body["detail"]
        assert (await reader.campaign(floor)).status == "draft"
