"""`engage audit verify` as an operator runs it: a real process against the run's database, JSON on stdout,
exit status 0 for an intact chain and 1 naming the first broken link."""

from __future__ import annotations

import asyncpg
import pytest

from engage.compliance.engine import CheckRequest, parse_audit_ref
from engage.core.runtime import Runtime
from engage.tenancy.models import Tenant

from ..cli.processes import run_engage
from .conftest import random_ae_mobile
from .test_engine import decide

pytestmark = pytest.mark.usefixtures("open_hours", "registries")


class TestAuditVerify:
    async def test_an_intact_chain_verifies(self, cli_env: dict[str, str], runtime: Runtime, tenant: Tenant) -> None:
        [decision] = await decide(runtime, tenant, [CheckRequest(random_ae_mobile())])

        result = await run_engage("audit", "verify", env=cli_env)

        assert result.returncode == 0, result.stderr
        report = result.json()
        assert report["verified"] is True
        assert report["first_broken"] is None
        assert int(report["last_audit_ref"].removeprefix("AUD-")) >= (parse_audit_ref(decision.audit_ref) or 0)

    async def test_a_row_altered_behind_the_apps_back_fails_with_its_ref(
        self, cli_env: dict[str, str], runtime: Runtime, tenant: Tenant, owner: asyncpg.Connection
    ) -> None:
        phone = random_ae_mobile()
        [decision] = await decide(runtime, tenant, [CheckRequest(phone)])
        seq = parse_audit_ref(decision.audit_ref)

        await owner.execute("ALTER TABLE compliance_audit DISABLE TRIGGER USER")
        try:
            await owner.execute("UPDATE compliance_audit SET phone = '+971500000000' WHERE seq = $1", seq)
            result = await run_engage("audit", "verify", env=cli_env)
        finally:
            await owner.execute("UPDATE compliance_audit SET phone = $2 WHERE seq = $1", seq, phone)
            await owner.execute("ALTER TABLE compliance_audit ENABLE TRIGGER USER")

        assert result.returncode == 1
        assert result.json()["first_broken"] == {
            "audit_ref": decision.audit_ref,
            "reason": "its content does not match its hash",
        }
