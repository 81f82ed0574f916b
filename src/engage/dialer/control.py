"""Call control and preview dialling: the API's side of the dialer. A request only writes the database, in the
caller's transaction; the dialer worker acts on what it finds there (it places a `dialing` call no worker has
placed, and hangs up a live call whose hang-up was requested). Flushes, never commits.

Invariants:
- Every call the API opens has exactly one audited compliance decision (channel `originate`) and exists only if
  that decision allowed it. A refusal writes its audit row and a `call.compliance_blocked` event and nothing
  else; it is returned, not raised, so the request's transaction commits both (see `api.py`).
- A call opened here has its agent chosen in advance and `reserved` for it (`current_call_id`), so the worker
  bridges that agent on answer. The agent must be `available` and SIP-registered; if the agent was taken
  between that check and the reservation, the request fails with a 409 and nothing of it stays.
- An agent sees and controls only its own calls: another agent's call is reported absent (404).
- A previewed contact is held for one agent until `reserved_until`; only that agent may dial or skip it while
  the hold lasts, and the hopper passes it by meanwhile. Once the hold expires it is anyone's again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from engage.agents.errors import AgentNotFound, NotAnAgent
from engage.calls.models import ENDED_STATUSES, Call, CallOrigin, CallStatus
from engage.campaigns import service as campaigns
from engage.campaigns.models import Campaign
from engage.compliance.engine import Asker, Channel, CheckRequest, Decision, Engine
from engage.compliance.errors import InvalidPhone
from engage.contacts.models import Contact
from engage.core.clock import Clock, isoformat_z
from engage.core.errors import ValidationFailed
from engage.core.ids import new_id
from engage.core.outbox import record_event
from engage.core.phones import to_e164
from engage.core.principal import Principal, Role
from engage.dnc import service as dnc_service
from engage.dnc.schemas import DncSource
from engage.tenancy import service as tenancy_service

from . import repository, service
from .errors import (
    AgentNotAvailable,
    CallEnded,
    CallNotFound,
    CallWithoutAgent,
    CampaignNotActive,
    ComplianceBlocked,
    ContactNotFound,
    NoCallerId,
    NotYourAgent,
    PreviewNotHeld,
)
from .repository import AgentRow
from .schemas import DispositionRequest, OriginateRequest

# A callback further out than this is a new campaign, not a callback; it also bounds what the hopper keeps waiting.
MAX_CALLBACK_DELAY = timedelta(days=90)
# A skipped preview contact waits this long, so the agent's next preview is another contact (when there is one).
SKIP_DEFER = timedelta(seconds=300)


@dataclass(frozen=True, slots=True)
class Accepted:
    """The call was opened: the worker will place it."""

    call: Call
    decision: Decision


@dataclass(frozen=True, slots=True)
class Refused:
    """Compliance said no: the audit row and the event are written, the caller commits them and answers 403."""

    decision: Decision

    def problem(self) -> ComplianceBlocked:
        """The seed's 403 body (POST /v1/calls/originate, "403 Compliance Block")."""
        decision = self.decision
        return ComplianceBlocked(
            decision.blocking_reason or "The call is not allowed by compliance.",
            extra={
                "compliance": {
                    "allowed": False,
                    "rule": decision.blocking_rule,
                    "rule_version": decision.rule_version,
                    "audit_ref": decision.audit_ref,
                }
            },
        )


@dataclass(frozen=True, slots=True)
class HangupRequested:
    call_id: uuid.UUID
    status: CallStatus
    hangup_requested_at: datetime


@dataclass(frozen=True, slots=True)
class Skipped:
    contact_id: uuid.UUID
    next_attempt_at: datetime


@dataclass(frozen=True, slots=True)
class Preview:
    """The contact held for the agent, with its campaign and the end of the hold; all None when there is none."""

    contact: Contact | None
    campaign: Campaign | None
    reserved_until: datetime | None


@dataclass(frozen=True, slots=True)
class CurrentCall:
    """The call on the agent's desk with its contact and campaign; all None when there is none."""

    call: Call | None
    contact: Contact | None
    campaign: Campaign | None


# -- originate ------------------------------------------------------------------------------------------------------


async def originate(
    session: AsyncSession, principal: Principal, body: OriginateRequest, *, engine: Engine, clock: Clock
) -> Accepted | Refused:
    """POST /v1/calls/originate: the checks a client can fail, in the documented order, then one audited
    compliance decision, then the call row (unplaced) with its agent reserved."""
    if principal.role is Role.agent and body.agent_id != principal.user_id:
        raise NotYourAgent("An agent may originate calls only for itself: agent_id must be your own user id.")
    country = await tenancy_service.country(session, principal.tenant_id)
    destination = _e164(body.destination, country, "destination")
    agent = await repository.agent(session, body.agent_id)
    if agent is None:
        raise AgentNotFound(f"No active agent {body.agent_id} in your organisation.")
    campaign: Campaign | None = None
    if body.campaign_id is not None:
        campaign = await repository.get_campaign(session, body.campaign_id)
        if campaign is None:
            raise campaigns.not_found(body.campaign_id)
    cli = await _caller_id(session, body.cli_override, campaign, destination, country)
    await _check_ready(session, agent)
    now = clock.now()
    request = CheckRequest(phone=destination, campaign_id=campaign.id if campaign else None, cli=cli)
    [decision] = await engine.decide(
        session, principal.tenant_id, [request], Asker(Channel.originate, principal.user_id)
    )
    if not decision.allowed:
        await record_event(
            session,
            principal.tenant_id,
            service.EVENT_BLOCKED,
            {
                "campaign_id": str(campaign.id) if campaign else None,
                "contact_id": None,
                "agent_id": str(agent.agent_id),
                "contact_phone": destination,
                "origin": CallOrigin.manual.value,
                "allowed": False,
                "blocking_rule": decision.blocking_rule,
                "blocking_reason": decision.blocking_reason,
                "rule_version": decision.rule_version,
                "audit_ref": decision.audit_ref,
            },
            agent.agent_id,
            clock=clock,
        )
        return Refused(decision)
    call = await _open_call(
        session,
        principal.tenant_id,
        agent,
        origin=CallOrigin.manual,
        phone=destination,
        campaign_id=campaign.id if campaign else None,
        contact_id=None,
        cli=cli,
        decision=decision,
        now=now,
    )
    return Accepted(call, decision)


def _e164(raw: str, country: str, field: str) -> str:
    phone = to_e164(raw, country)
    if phone is None:
        raise InvalidPhone(
            f"{field}: {raw!r} is not a valid phone number (E.164, or local format in {country}).",
            extra={"errors": [{"field": field, "message": "not a valid phone number"}]},
        )
    return phone


async def _caller_id(
    session: AsyncSession, override: str | None, campaign: Campaign | None, destination: str, country: str
) -> str:
    """The override (its ownership is the compliance `cli_ownership` check's to judge), else the campaign's CLI
    number for this callee, else the tenant's first CLI number."""
    if override is not None:
        return _e164(override, country, "cli_override")
    if campaign is not None:
        cli = service.cli_for(await repository.cli_numbers(session, campaign.cli_group_id), destination)
        if cli is None:
            raise NoCallerId(f"The CLI group of campaign {campaign.id} has no number to present.")
        return cli
    cli = await repository.any_cli_number(session)
    if cli is None:
        raise NoCallerId(
            "Your organisation has no CLI number to present: add one (POST /v1/cli-groups) or send cli_override."
        )
    return cli


async def _check_ready(session: AsyncSession, agent: AgentRow) -> None:
    """DESIGN.md §3: calls go only to `available` agents who are SIP-registered."""
    registered = agent.sip_user is not None and await repository.sip_registered(session, agent.sip_user)
    problems = []
    if agent.state != "available":
        problems.append(f"the agent is {agent.state}, not available")
    if agent.sip_user is None:
        problems.append("the agent has no SIP user")
    elif not registered:
        problems.append(f"the agent's SIP user {agent.sip_user} is not registered")
    if problems:
        raise AgentNotAvailable(
            f"Agent {agent.agent_id} cannot take a call: {'; '.join(problems)}.",
            extra={"agent_id": str(agent.agent_id), "agent_state": agent.state, "sip_registered": registered},
        )


async def _open_call(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    agent: AgentRow,
    *,
    origin: CallOrigin,
    phone: str,
    campaign_id: uuid.UUID | None,
    contact_id: uuid.UUID | None,
    cli: str,
    decision: Decision,
    now: datetime,
) -> Call:
    call_id = new_id()
    changes = await repository.move_agents(
        session, [agent.agent_id], to="reserved", now=now, from_states=["available"], current_call_id=call_id
    )
    if not changes:
        # Taken (by the dialer or another request) since `_check_ready`: the request fails whole, audit row
        # included, because no call came of that decision.
        raise AgentNotAvailable(
            f"Agent {agent.agent_id} was just given another call.",
            extra={"agent_id": str(agent.agent_id), "agent_state": "reserved", "sip_registered": True},
        )
    call = Call(
        id=call_id,
        tenant_id=tenant_id,
        campaign_id=campaign_id,
        contact_id=contact_id,
        agent_id=agent.agent_id,
        contact_phone=phone,
        direction="outbound",
        origin=origin.value,
        status=CallStatus.dialing.value,
        abandoned=False,
        cli=cli,
        compliance_audit_ref=decision.audit_ref,
        # Unplaced and unowned: the worker holding the campaign's lease (or, without a campaign, the first
        # worker to claim it as an orphan) originates it.
        placed_at=None,
        worker_id=None,
        started_at=now,
    )
    await repository.add_call(session, call)
    await repository.flush(session)
    await service.agent_events(session, tenant_id, changes)
    await service.call_event(session, call, service.EVENT_INITIATED, now)
    return call


# -- hang-up and disposition -----------------------------------------------------------------------------------------


async def _own_call(session: AsyncSession, principal: Principal, call_id: uuid.UUID) -> Call:
    call = await repository.get_call(session, call_id, lock=True)
    if call is None or (principal.role is Role.agent and call.agent_id != principal.user_id):
        raise CallNotFound(f"No call {call_id} in your organisation.")
    return call


async def request_hangup(
    session: AsyncSession, principal: Principal, call_id: uuid.UUID, *, clock: Clock
) -> HangupRequested:
    """POST /v1/calls/{id}/hangup: asks the worker driving the call to end it. Idempotent: a repeated request
    keeps the first instant."""
    call = await _own_call(session, principal, call_id)
    if call.ended_at is not None or CallStatus(call.status) in ENDED_STATUSES:
        ended = f" at {isoformat_z(call.ended_at)}" if call.ended_at else ""
        raise CallEnded(f"The call already ended ({call.status}){ended}.", extra={"call_status": call.status})
    requested_at = call.hangup_requested_at
    if requested_at is None:
        requested_at = call.hangup_requested_at = clock.now()
        await repository.flush(session)
    return HangupRequested(call.id, CallStatus(call.status), requested_at)


async def dispose(
    session: AsyncSession, principal: Principal, call_id: uuid.UUID, body: DispositionRequest, *, clock: Clock
) -> Call:
    """POST /v1/calls/{id}/disposition: the outcome the agent records, on the call and its contact; optionally
    the number onto the tenant's DNC list, or a callback to the same agent; the agent's wrap-up ends now."""
    now = clock.now()
    _check_disposition(body, now)
    call = await _own_call(session, principal, call_id)
    if call.agent_id is None:
        raise CallWithoutAgent("No agent took this call, so there is nothing to disposition.")
    call.disposition = body.disposition
    call.notes = body.notes or None
    call.dispositioned_at = now
    contact = await repository.contact_for_update(session, call.contact_id) if call.contact_id else None
    if contact is not None:
        contact.disposition = body.disposition
        if body.callback_at is not None and contact.status != "dnc":
            # Back in the hopper for this agent alone, when it is due; callbacks are not bound by max_attempts.
            contact.status = "pending"
            contact.next_attempt_at = body.callback_at
            contact.callback_agent_id = call.agent_id
            contact.reserved_by = None
            contact.reserved_until = None
    await repository.flush(session)
    if body.add_to_dnc:
        # The DNC trigger marks the tenant's pending and dialing contacts with this number `dnc`.
        await dnc_service.add_numbers(
            session,
            call.tenant_id,
            [call.contact_phone],
            source=DncSource.agent_disposition,
            reason=f"Disposition: {body.disposition}",
            added_by=principal.user_id,
            clock=clock,
        )
    # Wrap-up ends sooner when the agent dispositions.
    changes = await repository.move_agents(
        session, [call.agent_id], to="available", now=now, from_states=["wrap_up"], only_call_id=call.id
    )
    await service.agent_events(session, call.tenant_id, changes)
    return call


def _check_disposition(body: DispositionRequest, now: datetime) -> None:
    message: tuple[str, str] | None = None
    if body.callback_at is not None and body.add_to_dnc:
        message = (
            "add_to_dnc",
            "cannot be true together with callback_at: a number on the DNC list is never called back",
        )
    elif body.callback_at is not None and body.callback_at <= now:
        message = ("callback_at", "must be in the future")
    elif body.callback_at is not None and body.callback_at > now + MAX_CALLBACK_DELAY:
        message = ("callback_at", f"must be within {MAX_CALLBACK_DELAY.days} days")
    if message is not None:
        field, text = message
        raise ValidationFailed(f"{field}: {text}", extra={"errors": [{"field": field, "message": text}]})


# -- the agent's desk -----------------------------------------------------------------------------------------------

# A call that ended undispositioned stays on the desk this long: the wrap-up, with room for a slow agent; after it
# the disposition is still accepted (POST /v1/calls/{id}/disposition) but the desk no longer offers it.
DESK_KEEPS_ENDED = timedelta(hours=1)


async def current_call(session: AsyncSession, principal: Principal, *, clock: Clock) -> CurrentCall:
    """GET /v1/agents/me/call: the agent's live call, else its latest call that reached it and ended without a
    disposition (a call that never reached the agent has nothing to disposition), with the contact (names, custom
    fields) the agent talks to."""
    agent = await _calling_agent(session, principal)
    call = await repository.agent_latest_call(session, agent.agent_id, ended_since=clock.now() - DESK_KEEPS_ENDED)
    if call is None:
        return CurrentCall(None, None, None)
    contact = await repository.get_contact(session, call.contact_id) if call.contact_id else None
    campaign = await repository.get_campaign(session, call.campaign_id) if call.campaign_id else None
    return CurrentCall(call, contact, campaign)


# -- preview dialling -----------------------------------------------------------------------------------------------


async def _calling_agent(session: AsyncSession, principal: Principal) -> AgentRow:
    if principal.role is not Role.agent:
        raise NotAnAgent(f"Preview dialling is for agents; your role is {principal.role}.")
    agent = await repository.agent(session, principal.user_id)
    if agent is None:
        raise NotAnAgent("Your account is no longer an active agent.")
    return agent


async def preview(session: AsyncSession, principal: Principal, *, clock: Clock, hold_seconds: int) -> Preview:
    """GET /v1/agents/me/preview: the contact the agent holds, else the next one of its oldest active preview
    campaign that has one, now held for it for `hold_seconds`."""
    agent = await _calling_agent(session, principal)
    if agent.state == "offline":
        raise AgentNotAvailable(
            "You are offline: set your state (POST /v1/agents/me/state) before previewing contacts.",
            extra={"agent_id": str(agent.agent_id), "agent_state": agent.state},
        )
    now = clock.now()
    held = await repository.held_preview(session, agent.agent_id, now)
    if held is not None:
        campaign = await repository.get_campaign(session, held.campaign_id)
        if held.status == "pending" and campaign is not None and campaign.status == "active":
            return Preview(held, campaign, held.reserved_until)
        # Listed as DNC or its campaign paused since it was handed out: the hold is let go.
        held.reserved_by = None
        held.reserved_until = None
    for campaign in await repository.preview_campaigns(session, agent.agent_id):
        contact = await repository.take_preview(session, campaign, now)
        if contact is not None:
            contact.reserved_by = agent.agent_id
            contact.reserved_until = now + timedelta(seconds=hold_seconds)
            await repository.flush(session)
            return Preview(contact, campaign, contact.reserved_until)
    await repository.flush(session)
    return Preview(None, None, None)


async def _held_contact(session: AsyncSession, agent: AgentRow, contact_id: uuid.UUID, now: datetime) -> Contact:
    contact = await repository.contact_for_update(session, contact_id)
    if contact is None:
        raise ContactNotFound(f"No contact {contact_id} in your organisation.")
    if contact.reserved_by != agent.agent_id:
        raise PreviewNotHeld(f"Contact {contact_id} is not held for you: GET /v1/agents/me/preview first.")
    if contact.reserved_until is None or contact.reserved_until <= now:
        until = isoformat_z(contact.reserved_until) if contact.reserved_until else "already"
        raise PreviewNotHeld(
            f"Your hold on contact {contact_id} expired ({until}): GET /v1/agents/me/preview again.",
            extra={"reserved_until": until},
        )
    if contact.status != "pending":
        raise PreviewNotHeld(f"Contact {contact_id} is {contact.status}; it can no longer be dialled.")
    return contact


async def dial_preview(
    session: AsyncSession, principal: Principal, contact_id: uuid.UUID, *, engine: Engine, clock: Clock
) -> Accepted | Refused:
    """POST /v1/agents/me/preview/dial: the held contact through one audited compliance decision; allowed, the
    call is opened as the hopper opens one (attempt spent, contact `dialing`, hourly figure) with the agent
    reserved; refused, the contact is handled as the hopper handles a refused one."""
    agent = await _calling_agent(session, principal)
    now = clock.now()
    contact = await _held_contact(session, agent, contact_id, now)
    campaign = await repository.get_campaign(session, contact.campaign_id)
    if campaign is None or campaign.status != "active":
        status = campaign.status if campaign else "unknown"
        raise CampaignNotActive(
            f"The contact's campaign is {status}; only an active campaign dials.", extra={"campaign_status": status}
        )
    await _check_ready(session, agent)
    cli = service.cli_for(await repository.cli_numbers(session, campaign.cli_group_id), contact.phone)
    if cli is None:
        raise NoCallerId(f"The CLI group of campaign {campaign.id} has no number to present.")
    request = CheckRequest(phone=contact.phone, campaign_id=campaign.id, cli=cli)
    [decision] = await engine.decide(
        session, campaign.tenant_id, [request], Asker(Channel.originate, principal.user_id)
    )
    if not decision.allowed:
        await service.block_contact(session, campaign, contact, decision, now=now)
        await repository.flush(session)
        return Refused(decision)
    call = await _open_call(
        session,
        campaign.tenant_id,
        agent,
        origin=CallOrigin.preview,
        phone=contact.phone,
        campaign_id=campaign.id,
        contact_id=contact.id,
        cli=cli,
        decision=decision,
        now=now,
    )
    contact.status = "dialing"
    contact.attempts += 1
    contact.last_call_at = now
    contact.next_attempt_at = None
    contact.callback_agent_id = None
    contact.reserved_by = None
    contact.reserved_until = None
    await repository.bump_hourly(session, campaign.tenant_id, campaign.id, now, dialled=1)
    await repository.flush(session)
    return Accepted(call, decision)


async def skip_preview(session: AsyncSession, principal: Principal, contact_id: uuid.UUID, *, clock: Clock) -> Skipped:
    """POST /v1/agents/me/preview/skip: the hold is released and the contact deferred, attempt not spent."""
    agent = await _calling_agent(session, principal)
    now = clock.now()
    contact = await _held_contact(session, agent, contact_id, now)
    contact.reserved_by = None
    contact.reserved_until = None
    deferred_to = contact.next_attempt_at = now + SKIP_DEFER
    await repository.flush(session)
    return Skipped(contact.id, deferred_to)
