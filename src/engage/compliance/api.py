"""Routes: /v1/compliance/check (every role), /v1/compliance/rules (every role),
/v1/compliance/audit/{audit_ref} (supervisor, admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from engage.core.deps import SessionDep, Writing, require, writing
from engage.core.principal import Permission, Principal
from engage.core.responses import json_body
from engage.core.schemas import Text

from . import service
from .checks import CheckName
from .deps import EngineDep
from .schemas import AuditRecord, ComplianceCheck, ComplianceDecision, RuleSetList, RuleSetOut

router = APIRouter(prefix="/v1", tags=["compliance"])

# The check's one dependency (`core.deps.writing`): caller, permission and the request's transaction on a direct
# connection (every statement of a check, its audit included, is compiled).
Checking = Annotated[Writing, Depends(writing(Permission.compliance_check), scope="function")]
RulesReader = Annotated[Principal, Depends(require(Permission.compliance_rules_read))]
AuditReader = Annotated[Principal, Depends(require(Permission.compliance_audit_read))]


@router.post(
    "/compliance/check",
    response_model=ComplianceDecision,
    response_model_exclude_unset=True,
    summary="Pre-dial compliance check",
)
async def check(checking: Checking, engine: EngineDep, body: ComplianceCheck) -> Response:
    decision = await service.check(checking.db, checking.principal, body, engine=engine)
    # The body in `ComplianceDecision`'s field order, written as plain values (a test holds it to the model).
    out: dict[str, object] = {
        "allowed": decision.allowed,
        "rule_version": decision.rule_version,
        "audit_ref": decision.audit_ref,
        "checks": decision.checks,
    }
    if not decision.allowed:
        # The seed's allowed shape has no blocking fields at all.
        out |= {"blocking_rule": decision.blocking_rule, "blocking_reason": decision.blocking_reason}
    out |= {"jurisdiction": decision.jurisdiction, "reasons": decision.reasons}
    if decision.blocking_rule == CheckName.calling_hours:
        # Beyond the seed, and only where it means something: when the calling hours open again.
        out["next_permitted_at"] = decision.next_permitted_at
    return json_body(out)


@router.get("/compliance/rules", response_model=RuleSetList, summary="Rule sets the engine enforces today")
async def list_rules(_: RulesReader, engine: EngineDep) -> RuleSetList:
    items = service.rules_in_effect(engine.book, engine.clock)
    return RuleSetList(items=[RuleSetOut.model_validate(item) for item in items])


@router.get("/compliance/audit/{audit_ref}", response_model=AuditRecord, summary="One audited compliance decision")
async def get_audit(_: AuditReader, session: SessionDep, audit_ref: Text) -> AuditRecord:
    return AuditRecord.model_validate(await service.audit_record(session, audit_ref))
