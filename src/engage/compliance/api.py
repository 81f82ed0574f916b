"""Routes: /v1/compliance/check (every role), /v1/compliance/rules (every role),
/v1/compliance/audit/{audit_ref} (supervisor, admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from engage.core.deps import SessionDep, require
from engage.core.principal import Permission, Principal
from engage.core.schemas import Text

from . import service
from .checks import CheckName
from .deps import EngineDep
from .schemas import AuditRecord, ComplianceCheck, ComplianceDecision, RuleSetList, RuleSetOut

router = APIRouter(prefix="/v1", tags=["compliance"])

Checker = Annotated[Principal, Depends(require(Permission.compliance_check))]
RulesReader = Annotated[Principal, Depends(require(Permission.compliance_rules_read))]
AuditReader = Annotated[Principal, Depends(require(Permission.compliance_audit_read))]


@router.post(
    "/compliance/check",
    response_model=ComplianceDecision,
    response_model_exclude_unset=True,
    summary="Pre-dial compliance check",
)
async def check(principal: Checker, session: SessionDep, engine: EngineDep, body: ComplianceCheck) -> dict[str, object]:
    decision = await service.check(session, principal, body, engine=engine)
    out = ComplianceDecision.model_validate(decision).model_dump()
    if decision.allowed:
        # The seed's allowed shape has no blocking fields at all.
        del out["blocking_rule"], out["blocking_reason"]
    if decision.blocking_rule != CheckName.calling_hours:
        # Beyond the seed, and only where it means something: when the calling hours open again.
        del out["next_permitted_at"]
    return out


@router.get("/compliance/rules", response_model=RuleSetList, summary="Rule sets the engine enforces today")
async def list_rules(_: RulesReader, engine: EngineDep) -> RuleSetList:
    items = service.rules_in_effect(engine.book, engine.clock)
    return RuleSetList(items=[RuleSetOut.model_validate(item) for item in items])


@router.get("/compliance/audit/{audit_ref}", response_model=AuditRecord, summary="One audited compliance decision")
async def get_audit(_: AuditReader, session: SessionDep, audit_ref: Text) -> AuditRecord:
    return AuditRecord.model_validate(await service.audit_record(session, audit_ref))
