"""`service.covering`, the rule the compliance `consent` check applies, on plain records: the newest grant of
the scope (or `all`) in effect at the instant, where expiry ends a grant at `expires_at` and a withdrawal at W
ends every grant of its scope made at or before W."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from engage.consents.models import Consent
from engage.consents.service import covering
from engage.core.ids import new_id

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
TENANT = uuid.UUID(int=1)


def days(n: float) -> datetime:
    return T0 + timedelta(days=n)


def grant(
    granted: float,
    *,
    scope: str = "marketing",
    expires: float | None = None,
    withdrawn: float | None = None,
) -> Consent:
    """A record for one number, granted `granted` days after T0 (ids in creation order, as UUIDv7 gives)."""
    return Consent(
        id=new_id(),
        tenant_id=TENANT,
        phone="+971509876543",
        scope=scope,
        source="web_form",
        granted_at=days(granted),
        expires_at=days(expires) if expires is not None else None,
        withdrawn_at=days(withdrawn) if withdrawn is not None else None,
        recorded_by=None,
        created_at=days(granted),
    )


class TestCoveringGrants:
    def test_no_records_cover_nothing(self) -> None:
        assert covering([], "marketing", days(1)) is None

    def test_a_grant_of_the_scope_covers_from_its_instant_on(self) -> None:
        record = grant(0)

        assert covering([record], "marketing", days(0)) is record
        assert covering([record], "marketing", days(400)) is record

    def test_a_grant_made_after_the_instant_does_not_cover_it(self) -> None:
        assert covering([grant(2)], "marketing", days(1)) is None

    def test_a_grant_of_another_scope_does_not_cover(self) -> None:
        assert covering([grant(0, scope="service")], "marketing", days(1)) is None

    @pytest.mark.parametrize("scope", ["marketing", "service"])
    def test_a_grant_of_all_covers_every_scope(self, scope: str) -> None:
        record = grant(0, scope="all")

        assert covering([record], scope, days(1)) is record

    def test_only_a_grant_of_all_covers_the_scope_all(self) -> None:
        everything = grant(0, scope="all")

        assert covering([grant(1), grant(1, scope="service")], "all", days(2)) is None
        assert covering([everything, grant(1)], "all", days(2)) is everything

    def test_the_newest_grant_in_effect_is_returned_whatever_the_order_given(self) -> None:
        older, newer = grant(0), grant(5, scope="all")

        assert covering([older, newer], "marketing", days(6)) is newer
        assert covering([newer, older], "marketing", days(6)) is newer

    def test_an_unknown_scope_is_a_caller_bug(self) -> None:
        with pytest.raises(ValueError, match="sales"):
            covering([grant(0)], "sales", days(1))


class TestCoveringExpiry:
    def test_a_grant_covers_until_just_before_it_expires_and_not_at_expires_at(self) -> None:
        record = grant(0, expires=10)

        assert covering([record], "marketing", days(10) - timedelta(microseconds=1)) is record
        assert covering([record], "marketing", days(10)) is None

    def test_an_expired_newer_grant_leaves_an_older_lasting_one_in_effect(self) -> None:
        lasting, short = grant(0), grant(5, expires=6)

        assert covering([lasting, short], "marketing", days(5.5)) is short
        assert covering([lasting, short], "marketing", days(7)) is lasting


class TestCoveringWithdrawal:
    def test_a_withdrawn_grant_covers_until_the_withdrawal_and_not_from_it(self) -> None:
        record = grant(0, withdrawn=3)

        assert covering([record], "marketing", days(3) - timedelta(microseconds=1)) is record
        assert covering([record], "marketing", days(3)) is None

    def test_withdrawing_the_newest_grant_ends_older_grants_of_the_scope(self) -> None:
        records = [grant(0), grant(1, scope="all"), grant(2, withdrawn=3)]

        assert covering(records, "marketing", days(4)) is None

    def test_an_older_grant_covers_again_before_the_withdrawal(self) -> None:
        older, withdrawn = grant(0), grant(2, withdrawn=3)

        assert covering([older, withdrawn], "marketing", days(2.5)) is withdrawn
        assert covering([older, withdrawn], "marketing", days(1)) is older

    def test_a_grant_after_the_withdrawal_counts_again(self) -> None:
        regranted = grant(4)
        records = [grant(0), grant(2, withdrawn=3), regranted]

        assert covering(records, "marketing", days(3.5)) is None
        assert covering(records, "marketing", days(5)) is regranted

    def test_a_grant_at_the_very_instant_of_a_withdrawal_does_not_count(self) -> None:
        assert covering([grant(2, withdrawn=3), grant(3)], "marketing", days(4)) is None

    def test_a_withdrawal_of_another_scope_leaves_the_scope_covered(self) -> None:
        record = grant(0)

        assert covering([record, grant(1, scope="service", withdrawn=2)], "marketing", days(3)) is record

    def test_withdrawing_all_ends_every_scope(self) -> None:
        records = [grant(0), grant(0, scope="service"), grant(1, scope="all", withdrawn=2)]

        assert covering(records, "marketing", days(3)) is None
        assert covering(records, "service", days(3)) is None

    def test_a_scoped_withdrawal_ends_an_all_grant_for_that_scope_only(self) -> None:
        everything = grant(0, scope="all")
        records = [everything, grant(1, withdrawn=2)]

        assert covering(records, "marketing", days(3)) is None
        assert covering(records, "service", days(3)) is everything

    def test_a_withdrawal_after_the_instant_does_not_count_yet(self) -> None:
        record = grant(0, withdrawn=10)

        assert covering([grant(-1), record], "marketing", days(5)) is record
