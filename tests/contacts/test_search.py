"""POST /v1/contacts/search: Arabic matched the way people type it, Latin without case or accents, phones in
every form, custom field values, ranking, the campaign filter and tenant isolation (issue 3 point 6)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from engage.campaigns.models import Campaign
from engage.contacts import repository as contacts_repository
from engage.contacts.schemas import SearchResult
from engage.core.db import tenant_transaction, unscoped_transaction
from engage.core.principal import Role
from engage.core.runtime import Runtime
from engage.tenancy.models import Tenant

from ..factories import Factory
from ..problems import assert_problem, error_fields
from .conftest import Db

HIT_FIELDS = {"id", "phone", "first_name", "last_name", "campaign_id", "campaign_name", "status"}

PEOPLE: list[dict[str, Any]] = [
    {
        "phone": "+971501234567",
        "first_name": "Ahmad",
        "last_name": "Al Rashid",
        "custom_fields": {"account": "ACC-00421"},
    },
    {"phone": "+971502000001", "first_name": "أحمد", "last_name": "المنصوري"},
    {"phone": "+971502000002", "first_name": "إحمد", "last_name": "الكعبي"},
    {"phone": "+971502000003", "first_name": "مُحَمَّد", "last_name": "الهاشمي"},
    {"phone": "+971502000004", "first_name": "فاطمة", "last_name": "مدرسة"},
    {"phone": "+971502000005", "first_name": "ليلى", "last_name": "عبـــدالله"},
    {"phone": "+971502000006", "first_name": "José", "last_name": "Álvarez"},
    {"phone": "+966551234321", "first_name": "Sara", "last_name": "Hassan", "custom_fields": {"city": "Riyadh"}},
    {
        "phone": "+971503334444",
        "first_name": "Omar",
        "last_name": "Haddad",
        "custom_fields": {"policy": "comprehensive", "renewal_date": "2026-07-15"},
    },
]


async def search(client: httpx.AsyncClient, headers: dict[str, str], q: str, **extra: Any) -> dict[str, Any]:
    response = await client.post("/v1/contacts/search", headers=headers, json={"q": q, **extra})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    # Written as plain values, the body is exactly what the documented model would write.
    assert SearchResult.model_validate(body).model_dump(mode="json") == body
    return body


def names(result: dict[str, Any]) -> list[str]:
    return [f"{item['first_name']} {item['last_name']}" for item in result["items"]]


def phones(result: dict[str, Any]) -> set[str]:
    return {item["phone"] for item in result["items"]}


@pytest.fixture
async def people(client: httpx.AsyncClient, headers: dict[str, str], campaign: Campaign) -> Campaign:
    response = await client.post(f"/v1/campaigns/{campaign.id}/contacts", headers=headers, json={"contacts": PEOPLE})
    assert response.json()["imported"] == len(PEOPLE), response.text
    return campaign


@pytest.fixture
async def globex_ahmad(client: httpx.AsyncClient, other_headers: dict[str, str], other_campaign: Campaign) -> Campaign:
    """Another tenant's contact with the same number and first name as Ahmad Al Rashid of PEOPLE."""
    response = await client.post(
        f"/v1/campaigns/{other_campaign.id}/contacts",
        headers=other_headers,
        json={"contacts": [{"phone": "+971501234567", "first_name": "Ahmad", "last_name": "Globex"}]},
    )
    assert response.json()["imported"] == 1, response.text
    return other_campaign


@pytest.mark.usefixtures("people")
class TestArabicNames:
    @pytest.mark.parametrize("q", ["أحمد", "احمد", "إحمد", "آحمد"])
    async def test_every_hamza_form_of_alef_finds_every_other(
        self, client: httpx.AsyncClient, headers: dict[str, str], q: str
    ) -> None:
        result = await search(client, headers, q)

        assert set(names(result)) == {"أحمد المنصوري", "إحمد الكعبي"}
        assert result["total"] == 2

    @pytest.mark.parametrize("q", ["مدرسة", "مدرسه"])
    async def test_ta_marbuta_and_ha_match_each_other(
        self, client: httpx.AsyncClient, headers: dict[str, str], q: str
    ) -> None:
        assert names(await search(client, headers, q)) == ["فاطمة مدرسة"]

    async def test_fatima_typed_with_ha_finds_fatima_with_ta_marbuta(
        self, client: httpx.AsyncClient, headers: dict[str, str]
    ) -> None:
        assert names(await search(client, headers, "فاطمه")) == ["فاطمة مدرسة"]

    @pytest.mark.parametrize("q", ["ليلي", "ليلى"])
    async def test_alef_maqsura_and_ya_match_each_other(
        self, client: httpx.AsyncClient, headers: dict[str, str], q: str
    ) -> None:
        assert names(await search(client, headers, q)) == ["ليلى عبـــدالله"]

    @pytest.mark.parametrize("q", ["محمد", "مُحَمَّد", "مُحمد"])
    async def test_tashkeel_is_ignored_in_the_query_and_in_the_name(
        self, client: httpx.AsyncClient, headers: dict[str, str], q: str
    ) -> None:
        assert names(await search(client, headers, q)) == ["مُحَمَّد الهاشمي"]

    @pytest.mark.parametrize("q", ["عبدالله", "عبـدالله"])
    async def test_tatweel_is_ignored(self, client: httpx.AsyncClient, headers: dict[str, str], q: str) -> None:
        assert names(await search(client, headers, q)) == ["ليلى عبـــدالله"]


@pytest.mark.usefixtures("people")
class TestLatinNames:
    @pytest.mark.parametrize("q", ["jose", "José", "JOSE", "josé"])
    async def test_case_and_accents_are_ignored(
        self, client: httpx.AsyncClient, headers: dict[str, str], q: str
    ) -> None:
        assert names(await search(client, headers, q)) == ["José Álvarez"]

    async def test_an_accented_last_name_is_found_without_its_accent(
        self, client: httpx.AsyncClient, headers: dict[str, str]
    ) -> None:
        assert names(await search(client, headers, "alvarez")) == ["José Álvarez"]

    async def test_first_and_last_name_together_in_any_order(
        self, client: httpx.AsyncClient, headers: dict[str, str]
    ) -> None:
        assert names(await search(client, headers, "rashid ahmad")) == ["Ahmad Al Rashid"]

    async def test_part_of_a_name_matches(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        assert names(await search(client, headers, "Hadd")) == ["Omar Haddad"]

    async def test_a_short_word_matches_as_a_word_prefix(
        self, client: httpx.AsyncClient, headers: dict[str, str]
    ) -> None:
        assert names(await search(client, headers, "Al Rash")) == ["Ahmad Al Rashid"]

    async def test_nothing_matches_an_absent_name(self, client: httpx.AsyncClient, headers: dict[str, str]) -> None:
        assert await search(client, headers, "Zebedee") == {"items": [], "total": 0}

    async def test_like_wildcards_in_the_query_are_literal(
        self, client: httpx.AsyncClient, headers: dict[str, str]
    ) -> None:
        assert (await search(client, headers, "a%d"))["total"] == 0
        assert (await search(client, headers, "___"))["total"] == 0


@pytest.mark.usefixtures("people")
class TestCustomFields:
    @pytest.mark.parametrize(
        ("q", "expected"),
        [
            ("comprehensive", "Omar Haddad"),
            ("riyadh", "Sara Hassan"),
            ("ACC-00421", "Ahmad Al Rashid"),
            ("2026-07-15", "Omar Haddad"),
        ],
    )
    async def test_custom_field_values_are_searched(
        self, client: httpx.AsyncClient, headers: dict[str, str], q: str, expected: str
    ) -> None:
        assert names(await search(client, headers, q)) == [expected]


@pytest.mark.usefixtures("people")
class TestPhones:
    @pytest.mark.parametrize(
        "q", ["+971501234567", "00971501234567", "0501234567", "050 123 4567", "971501234567", "(050) 123-4567"]
    )
    async def test_a_full_number_in_any_form_finds_the_contact_first(
        self, client: httpx.AsyncClient, headers: dict[str, str], q: str
    ) -> None:
        result = await search(client, headers, q)

        assert result["items"][0]["phone"] == "+971501234567"

    async def test_a_number_of_another_country_in_international_form(
        self, client: httpx.AsyncClient, headers: dict[str, str]
    ) -> None:
        assert phones(await search(client, headers, "+966551234321")) == {"+966551234321"}

    @pytest.mark.parametrize("q", ["4567", "1234567", "123", "50 123"])
    async def test_a_run_of_three_or_more_digits_matches_inside_the_number(
        self, client: httpx.AsyncClient, headers: dict[str, str], q: str
    ) -> None:
        assert "+971501234567" in phones(await search(client, headers, q))

    async def test_a_digit_fragment_does_not_match_numbers_without_it(
        self, client: httpx.AsyncClient, headers: dict[str, str]
    ) -> None:
        assert phones(await search(client, headers, "3334444")) == {"+971503334444"}

    async def test_the_exact_number_ranks_above_numbers_that_only_contain_its_digits(
        self, client: httpx.AsyncClient, headers: dict[str, str], campaign: Campaign
    ) -> None:
        # Another contact whose reference number holds the same digits: it matches too, but ranks second.
        await client.post(
            f"/v1/campaigns/{campaign.id}/contacts",
            headers=headers,
            json={"contacts": [{"phone": "+971509990000", "first_name": "Aaa", "custom_fields": {"ref": "503334444"}}]},
        )

        result = await search(client, headers, "0503334444")

        assert [i["phone"] for i in result["items"]] == ["+971503334444", "+971509990000"]


class TestRankingAndShape:
    async def test_items_carry_the_seeds_fields_with_the_campaign_name(
        self, client: httpx.AsyncClient, headers: dict[str, str], people: Campaign
    ) -> None:
        result = await search(client, headers, "Ahmad")

        assert set(result) == {"items", "total"}
        [item] = result["items"]
        assert set(item) == HIT_FIELDS
        assert item | {"id": None} == {
            "id": None,
            "phone": "+971501234567",
            "first_name": "Ahmad",
            "last_name": "Al Rashid",
            "campaign_id": str(people.id),
            "campaign_name": "Q3 Insurance Renewal",
            "status": "pending",
        }

    async def test_a_closer_match_ranks_first(
        self, client: httpx.AsyncClient, headers: dict[str, str], campaign: Campaign
    ) -> None:
        body = {
            "contacts": [
                {"phone": "+971505550001", "first_name": "Mohammed", "last_name": "Abdulrahman Al Mheiri"},
                {"phone": "+971505550002", "first_name": "Mohammed"},
            ]
        }
        await client.post(f"/v1/campaigns/{campaign.id}/contacts", headers=headers, json=body)

        result = await search(client, headers, "mohammed")

        assert [i["phone"] for i in result["items"]] == ["+971505550002", "+971505550001"]

    async def test_limit_caps_the_items_but_not_the_total(
        self, client: httpx.AsyncClient, headers: dict[str, str], campaign: Campaign
    ) -> None:
        body = {"contacts": [{"phone": f"+97150666{n:04d}", "first_name": "Khalid"} for n in range(25)]}
        await client.post(f"/v1/campaigns/{campaign.id}/contacts", headers=headers, json=body)

        default = await search(client, headers, "khalid")
        three = await search(client, headers, "khalid", limit=3)

        assert (len(default["items"]), default["total"]) == (20, 25)
        assert (len(three["items"]), three["total"]) == (3, 25)

    async def test_campaign_id_restricts_the_search_to_that_campaign(
        self, client: httpx.AsyncClient, headers: dict[str, str], tenant: Tenant, db: Db, people: Campaign
    ) -> None:
        other = await db.campaign(tenant, name="Second campaign")
        await client.post(
            f"/v1/campaigns/{other.id}/contacts",
            headers=headers,
            json={"contacts": [{"phone": "+971507777777", "first_name": "Ahmad", "last_name": "Second"}]},
        )

        everywhere = await search(client, headers, "ahmad")
        first_only = await search(client, headers, "ahmad", campaign_id=str(people.id))
        second_only = await search(client, headers, "ahmad", campaign_id=str(other.id))

        assert everywhere["total"] == 2
        assert {i["campaign_name"] for i in everywhere["items"]} == {"Q3 Insurance Renewal", "Second campaign"}
        assert names(first_only) == ["Ahmad Al Rashid"]
        assert names(second_only) == ["Ahmad Second"]

    async def test_an_agent_may_search(
        self, client: httpx.AsyncClient, factory: Factory, tenant: Tenant, people: Campaign
    ) -> None:
        agent = await factory.user(tenant, Role.agent)

        assert names(await search(client, factory.headers(agent), "ahmad")) == ["Ahmad Al Rashid"]

    async def test_a_search_considers_at_most_max_matches_and_counts_them(
        self, client: httpx.AsyncClient, headers: dict[str, str], people: Campaign, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # Six contacts hold the digits 502000 (+97150200000N); with the cap at 4 the total says 4.
        monkeypatch.setattr(contacts_repository, "MAX_MATCHES", 4)

        result = await search(client, headers, "502000", limit=2)

        assert (len(result["items"]), result["total"]) == (2, 4)
        assert phones(result) <= {f"+97150200000{n}" for n in range(1, 7)}

    async def test_the_exact_number_is_found_even_beyond_the_cap(
        self,
        client: httpx.AsyncClient,
        headers: dict[str, str],
        campaign: Campaign,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        # Stored first, and first by number too (whichever order a plan reads them in): contacts whose reference
        # holds the number's digits.
        others = [{"phone": f"+97150000000{n}", "custom_fields": {"ref": "501234567"}} for n in range(5)]
        for contacts in (others, [{"phone": "+971501234567", "first_name": "Ahmad"}]):
            await client.post(f"/v1/campaigns/{campaign.id}/contacts", headers=headers, json={"contacts": contacts})
        monkeypatch.setattr(contacts_repository, "MAX_MATCHES", 3)

        result = await search(client, headers, "0501234567", limit=1)

        assert (phones(result), result["total"]) == ({"+971501234567"}, 3)


class TestIsolationAndBadInput:
    async def test_another_tenants_contacts_are_never_returned(
        self,
        client: httpx.AsyncClient,
        headers: dict[str, str],
        other_headers: dict[str, str],
        globex_ahmad: Campaign,
        people: Campaign,
    ) -> None:

        mine = await search(client, headers, "ahmad")
        theirs = await search(client, other_headers, "ahmad")
        by_phone = await search(client, other_headers, "0501234567")

        assert names(mine) == ["Ahmad Al Rashid"]
        assert names(theirs) == ["Ahmad Globex"]
        assert names(by_phone) == ["Ahmad Globex"]
        assert (await search(client, other_headers, "Rashid"))["total"] == 0

    async def test_another_tenants_campaign_id_is_404(
        self, client: httpx.AsyncClient, other_headers: dict[str, str], people: Campaign
    ) -> None:
        response = await client.post(
            "/v1/contacts/search", headers=other_headers, json={"q": "ahmad", "campaign_id": str(people.id)}
        )

        assert_problem(response, 404, "campaign-not-found")

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            pytest.param({}, "q", id="missing-q"),
            pytest.param({"q": ""}, "q", id="empty-q"),
            pytest.param({"q": "   "}, "q", id="blank-q"),
            pytest.param({"q": "x" * 201}, "q", id="long-q"),
            pytest.param({"q": "a", "limit": 0}, "limit", id="limit-0"),
            pytest.param({"q": "a", "limit": 101}, "limit", id="limit-101"),
            pytest.param({"q": "a", "campaign_id": "nope"}, "campaign_id", id="bad-campaign-id"),
            pytest.param({"q": "a", "status": "pending"}, "status", id="extra-field"),
        ],
    )
    async def test_bad_search_bodies_are_400_naming_the_field(
        self, client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, Any], field: str
    ) -> None:
        response = await client.post("/v1/contacts/search", headers=headers, json=body)

        assert field in error_fields(assert_problem(response, 400, "validation-error"))

    async def test_tenant_id_in_the_search_body_is_422(
        self, client: httpx.AsyncClient, headers: dict[str, str], other_tenant: Tenant
    ) -> None:
        response = await client.post(
            "/v1/contacts/search", headers=headers, json={"q": "a", "tenant_id": str(other_tenant.id)}
        )

        assert_problem(response, 422, "tenant-id-not-allowed")

    async def test_search_without_a_token_is_401(self, client: httpx.AsyncClient) -> None:
        assert_problem(await client.post("/v1/contacts/search", json={"q": "ahmad"}), 401, "unauthorized")


class TestSearchView:
    """`contact_search` (migration 20261127_0800) reads `contacts` with its owner's rights, so the trigram index
    can serve the app role. It must filter by tenant itself and must not be a way to write."""

    async def test_the_view_shows_the_scoped_tenant_only_and_nothing_unscoped(
        self,
        client: httpx.AsyncClient,
        runtime: Runtime,
        tenant: Tenant,
        globex_ahmad: Campaign,
        people: Campaign,
    ) -> None:

        async with tenant_transaction(runtime.sessions, tenant.id) as session:
            mine = set((await session.execute(text("SELECT tenant_id FROM contact_search"))).scalars())
        async with unscoped_transaction(runtime.sessions) as session:
            unscoped = await session.scalar(text("SELECT count(*) FROM contact_search"))

        assert mine == {tenant.id}
        assert unscoped == 0

    @pytest.mark.parametrize(
        "statement",
        [
            "UPDATE contact_search SET first_name = 'x'",
            "DELETE FROM contact_search",
            "INSERT INTO contact_search (id, tenant_id, campaign_id, phone, status) "
            "VALUES (gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), '+971500000000', 'pending')",
        ],
    )
    async def test_the_app_role_cannot_write_through_the_view(
        self, runtime: Runtime, tenant: Tenant, people: Campaign, statement: str
    ) -> None:
        with pytest.raises(DBAPIError, match="permission denied"):
            async with tenant_transaction(runtime.sessions, tenant.id) as session:
                await session.execute(text(statement))


@pytest.mark.usefixtures("people")
class TestTerms:
    """Words are found from their start, through `contact_terms` (migration 20261206_0900), which triggers on
    `contacts` keep and the app role may only read, its own tenant's rows only."""

    async def test_a_word_is_matched_from_its_start_not_from_inside(
        self, client: httpx.AsyncClient, headers: dict[str, str]
    ) -> None:
        assert names(await search(client, headers, "Haddad")) == ["Omar Haddad"]
        assert names(await search(client, headers, "addad")) == []

    async def test_an_arabic_name_is_found_without_its_joined_article(
        self, client: httpx.AsyncClient, headers: dict[str, str]
    ) -> None:
        assert phones(await search(client, headers, "منصوري")) == {"+971502000001"}
        assert phones(await search(client, headers, "المنصوري")) == {"+971502000001"}

    async def test_words_split_at_punctuation_as_the_names_were(
        self, client: httpx.AsyncClient, headers: dict[str, str], campaign: Campaign
    ) -> None:
        body = {"contacts": [{"phone": "+971505550003", "first_name": "Noura", "last_name": "Al-Suwaidi"}]}
        await client.post(f"/v1/campaigns/{campaign.id}/contacts", headers=headers, json=body)

        assert phones(await search(client, headers, "suwaidi")) == {"+971505550003"}
        assert phones(await search(client, headers, "al-suwaidi")) == {"+971505550003"}

    async def test_the_word_typed_in_full_ranks_above_longer_words_it_begins(
        self, client: httpx.AsyncClient, headers: dict[str, str], campaign: Campaign
    ) -> None:
        body = {
            "contacts": [
                {"phone": "+971505550004", "first_name": "Alia"},
                {"phone": "+971505550005", "first_name": "Ali", "last_name": "Bin Zayed Al Nahyan Al Falasi"},
            ]
        }
        await client.post(f"/v1/campaigns/{campaign.id}/contacts", headers=headers, json=body)

        result = await search(client, headers, "ali")

        assert [i["phone"] for i in result["items"]] == ["+971505550005", "+971505550004"]

    async def test_a_contact_with_two_words_that_match_counts_and_shows_once(
        self, client: httpx.AsyncClient, headers: dict[str, str], campaign: Campaign
    ) -> None:
        body = {
            "contacts": [
                {"phone": "+971505550006", "first_name": "Khalid", "last_name": "Khalifa"},
                {"phone": "+971505550007", "first_name": "Khalil"},
            ]
        }
        await client.post(f"/v1/campaigns/{campaign.id}/contacts", headers=headers, json=body)

        first = await search(client, headers, "khal", limit=1)
        both = await search(client, headers, "khal")

        assert (len(first["items"]), first["total"]) == (1, 2)
        assert [i["phone"] for i in both["items"]] == ["+971505550006", "+971505550007"]
        assert both["total"] == 2

    async def test_a_renamed_contact_is_found_by_its_new_name_only(
        self, client: httpx.AsyncClient, headers: dict[str, str], runtime: Runtime, tenant: Tenant
    ) -> None:
        async with tenant_transaction(runtime.sessions, tenant.id) as session:
            await session.execute(text("UPDATE contacts SET first_name = 'Zayed' WHERE phone = '+971503334444'"))

        assert names(await search(client, headers, "zayed")) == ["Zayed Haddad"]
        assert names(await search(client, headers, "omar")) == []

    async def test_a_deleted_contact_leaves_no_terms(
        self, client: httpx.AsyncClient, headers: dict[str, str], runtime: Runtime, tenant: Tenant
    ) -> None:
        async with tenant_transaction(runtime.sessions, tenant.id) as session:
            await session.execute(text("DELETE FROM contacts WHERE phone = '+971503334444'"))
            left = await session.scalar(
                text("SELECT count(*) FROM contact_terms WHERE term IN ('omar', 'haddad', 'comprehensive')")
            )

        assert left == 0
        assert (await search(client, headers, "haddad"))["total"] == 0

    async def test_the_terms_show_the_scoped_tenant_only_and_nothing_unscoped(
        self, runtime: Runtime, tenant: Tenant, globex_ahmad: Campaign
    ) -> None:
        async with tenant_transaction(runtime.sessions, tenant.id) as session:
            mine = set((await session.execute(text("SELECT tenant_id FROM contact_terms"))).scalars())
            ahmad = await session.scalar(text("SELECT count(*) FROM contact_terms WHERE term = 'ahmad'"))
        async with unscoped_transaction(runtime.sessions) as session:
            unscoped = await session.scalar(text("SELECT count(*) FROM contact_terms"))

        assert mine == {tenant.id}
        assert ahmad == 1  # Globex's Ahmad is stored too, but not visible here
        assert unscoped == 0

    @pytest.mark.parametrize(
        "statement",
        [
            "UPDATE contact_terms SET term = 'x'",
            "DELETE FROM contact_terms",
            "INSERT INTO contact_terms (tenant_id, term, weight, contact_id, campaign_id) "
            "VALUES (engage_current_tenant(), 'x', 1, gen_random_uuid(), gen_random_uuid())",
        ],
    )
    async def test_the_app_role_cannot_write_terms(self, runtime: Runtime, tenant: Tenant, statement: str) -> None:
        with pytest.raises(DBAPIError, match="permission denied"):
            async with tenant_transaction(runtime.sessions, tenant.id) as session:
                await session.execute(text(statement))

    async def test_a_word_of_marks_only_neither_drives_nor_narrows_the_search(
        self, client: httpx.AsyncClient, headers: dict[str, str]
    ) -> None:
        # Ten tatweels normalise to nothing: the search is the name's alone (أحمد, and إحمد with it).
        assert phones(await search(client, headers, "\u0640" * 10 + " أحمد")) == {"+971502000001", "+971502000002"}

    @pytest.mark.parametrize("q", ["Ahmad Al Rashid", "al ahmad rash", "ACC-00421 ahmad"])
    async def test_every_word_must_begin_a_word_of_the_contact(
        self, client: httpx.AsyncClient, headers: dict[str, str], q: str
    ) -> None:
        assert names(await search(client, headers, q)) == ["Ahmad Al Rashid"]
        assert names(await search(client, headers, q + " zz")) == []
        assert names(await search(client, headers, q + " zzz")) == []
