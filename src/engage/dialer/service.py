"""The dialer's use cases, each inside the caller's tenant transaction (one per tick or per switch event):
open attempts through the compliance gate, move a call through its states, end it and settle its contact and
agent. Flushes, never commits; every state change others must hear about goes to the outbox here.

Invariants:
- Every dial attempt has exactly one audited compliance decision (the engine's batch entry point) and a blocked
  attempt is neither dialled nor counted: a calling-hours block reschedules the contact to the next legal
  instant, a DNC block marks it `dnc`, a missing or withdrawn consent fails it, anything else waits.
- A contact's attempts grow by one per call row, at the moment the row is created, and the hopper never takes a
  contact whose attempts reached `max_attempts`; so no contact is dialled more often than the campaign allows.
- One caller ID per contact: the campaign's CLI numbers are chosen by a stable hash of the callee's number.
- The agent states `reserved`, `on_call` and `wrap_up` are set here and nowhere else, each with its
  `agent.state_changed` event; a call's events share its id as `correlation_id`.
"""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from engage.calls.models import Call, CallOrigin, CallStatus
from engage.campaigns.models import Campaign
from engage.compliance import service as compliance_service
from engage.compliance.engine import Asker, Channel, CheckRequest, Decision, Engine
from engage.contacts.models import Contact
from engage.core.clock import isoformat_z
from engage.core.ids import new_id
from engage.core.outbox import record_event
from engage.telephony.events import LegOutcome

from . import repository
from .repository import StateChange

EVENT_INITIATED = "call.initiated"
EVENT_ANSWERED = "call.answered"
EVENT_COMPLETED = "call.completed"
EVENT_ABANDONED = "call.abandoned"
EVENT_BLOCKED = "call.compliance_blocked"
EVENT_AGENT_STATE = "agent.state_changed"

# A manual call without a campaign has no campaign wrap-up: DESIGN.md §2's default.
DEFAULT_WRAP_UP_SECONDS = 15
# Numbers that do not exist or cannot be reached by any route: trying again cannot help (Q.850 causes 1, 3, 28).
NO_RETRY_CAUSES = frozenset({"UNALLOCATED_NUMBER", "NO_ROUTE_DESTINATION", "INVALID_NUMBER_FORMAT"})
# A decision that could not be made (time-out, error) is a "no" for now, not for good: the contact waits this long.
COMPLIANCE_ERROR_WAIT = timedelta(minutes=1)
# A frequency cap counts calls per local day and week: tomorrow is the earliest it can change its answer.
FREQUENCY_CAP_WAIT = timedelta(hours=24)
DNC_RULES = frozenset({"dnc_national", "dnc_tenant"})


def cli_for(numbers: Sequence[str], phone: str) -> str | None:
    """The same caller ID for every attempt to one number (a stable hash, the same in every worker process)."""
    if not numbers:
        return None
    return numbers[zlib.crc32(phone.encode()) % len(numbers)]


def call_payload(call: Call) -> dict[str, Any]:
    """The seed's call payload, plus what a CRM needs to match the call."""
    return {
        "call_id": str(call.id),
        "campaign_id": str(call.campaign_id) if call.campaign_id else None,
        "contact_id": str(call.contact_id) if call.contact_id else None,
        "agent_id": str(call.agent_id) if call.agent_id else None,
        "contact_phone": call.contact_phone,
        "direction": call.direction,
        "origin": call.origin,
        "status": call.status,
        "abandoned": call.abandoned,
        "disposition": call.disposition,
        "duration_seconds": call.duration_seconds,
        "talk_time_seconds": call.talk_time_seconds,
        "hangup_cause": call.hangup_cause,
        "cli": call.cli,
        "compliance_audit_ref": call.compliance_audit_ref,
        "started_at": isoformat_z(call.started_at),
        "answered_at": isoformat_z(call.answered_at) if call.answered_at else None,
        "ended_at": isoformat_z(call.ended_at) if call.ended_at else None,
        "recording_id": str(call.recording_id) if call.recording_id else None,
    }


async def call_event(session: AsyncSession, call: Call, event_type: str, now: datetime) -> None:
    await record_event(session, call.tenant_id, event_type, call_payload(call), call.id, clock=_At(now))


async def agent_events(session: AsyncSession, tenant_id: uuid.UUID, changes: Sequence[StateChange]) -> None:
    for change in changes:
        await record_event(
            session,
            tenant_id,
            EVENT_AGENT_STATE,
            {
                "agent_id": str(change.agent_id),
                "full_name": change.full_name,
                "previous_state": change.previous,
                "state": change.state,
                "reason": None,
                "state_since": isoformat_z(change.state_since),
                # The dialer, not a person.
                "changed_by": None,
            },
            change.agent_id,
            clock=_At(change.state_since),
        )


@dataclass(frozen=True, slots=True)
class _At:
    """A clock stopped at one instant: an event's `occurred_at` is the instant of the change it reports."""

    instant: datetime

    def now(self) -> datetime:
        return self.instant


# -- opening attempts ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Blocked:
    contact_id: uuid.UUID
    rule: str


async def open_attempts(
    session: AsyncSession,
    campaign: Campaign,
    contacts: Sequence[tuple[Contact, uuid.UUID | None]],
    *,
    engine: Engine,
    worker_id: str,
    now: datetime,
) -> tuple[list[Call], list[Blocked]]:
    """One audited compliance decision per contact (one batch), then a call row per allowed contact (the contact
    `dialing`, its attempt spent) and the blocked ones rescheduled or closed. `contacts` pairs each contact with
    the agent reserved for it (callbacks), if any. The calls are the worker's to originate after commit."""
    if not contacts:
        return [], []
    numbers = await repository.cli_numbers(session, campaign.cli_group_id)
    requests = [
        CheckRequest(phone=contact.phone, campaign_id=campaign.id, cli=cli_for(numbers, contact.phone))
        for contact, _ in contacts
    ]
    decisions = await engine.decide(session, campaign.tenant_id, requests, Asker(Channel.dialer))
    calls: list[Call] = []
    blocked: list[Blocked] = []
    for (contact, agent_id), request, decision in zip(contacts, requests, decisions, strict=True):
        if not decision.allowed:
            await _block(session, campaign, contact, decision, now=now)
            blocked.append(Blocked(contact.id, decision.blocking_rule or "unknown"))
            continue
        call_id = new_id()
        if agent_id is not None:
            # A callback goes to the agent who asked for it, and only while that agent is free.
            changes = await repository.move_agents(
                session, [agent_id], to="reserved", now=now, from_states=["available"], current_call_id=call_id
            )
            if not changes:
                continue
            await agent_events(session, campaign.tenant_id, changes)
        call = Call(
            id=call_id,
            tenant_id=campaign.tenant_id,
            campaign_id=campaign.id,
            contact_id=contact.id,
            agent_id=agent_id,
            contact_phone=contact.phone,
            direction="outbound",
            origin=(CallOrigin.callback if agent_id is not None else CallOrigin.dialer).value,
            status=CallStatus.dialing.value,
            abandoned=False,
            cli=request.cli,
            compliance_audit_ref=decision.audit_ref,
            worker_id=worker_id,
            started_at=now,
        )
        await repository.add_call(session, call)
        contact.status = "dialing"
        contact.attempts += 1
        contact.last_call_at = now
        contact.next_attempt_at = None
        contact.callback_agent_id = None
        contact.reserved_by = None
        contact.reserved_until = None
        await repository.bump_hourly(session, campaign.tenant_id, campaign.id, now, dialled=1)
        await call_event(session, call, EVENT_INITIATED, now)
        calls.append(call)
    await repository.flush(session)
    return calls, blocked


async def _block(
    session: AsyncSession, campaign: Campaign, contact: Contact, decision: Decision, *, now: datetime
) -> None:
    rule = decision.blocking_rule or ""
    if rule == "calling_hours":
        contact.next_attempt_at = decision.next_permitted_at or now + timedelta(minutes=campaign.retry_delay_minutes)
    elif rule in DNC_RULES:
        contact.status = "dnc"
    elif rule == "consent":
        contact.status = "failed"
        contact.disposition = "no_consent"
    elif rule == "frequency_cap":
        contact.next_attempt_at = now + FREQUENCY_CAP_WAIT
    elif rule == "compliance_error":
        contact.next_attempt_at = now + COMPLIANCE_ERROR_WAIT
    else:
        # cli_ownership: the campaign's caller IDs are not the tenant's; nothing improves until someone fixes the
        # campaign, so the contact waits a retry delay rather than being re-checked every tick.
        contact.next_attempt_at = now + timedelta(minutes=campaign.retry_delay_minutes)
    contact.reserved_by = None
    contact.reserved_until = None
    await record_event(
        session,
        campaign.tenant_id,
        EVENT_BLOCKED,
        {
            "campaign_id": str(campaign.id),
            "contact_id": str(contact.id),
            "contact_phone": contact.phone,
            "allowed": False,
            "blocking_rule": decision.blocking_rule,
            "blocking_reason": decision.blocking_reason,
            "rule_version": decision.rule_version,
            "audit_ref": decision.audit_ref,
            "contact_status": contact.status,
            "next_attempt_at": isoformat_z(contact.next_attempt_at) if contact.next_attempt_at else None,
        },
        contact.id,
        clock=_At(now),
    )


# -- a call's progress -------------------------------------------------------------------------------------------


async def mark_placed(session: AsyncSession, call_id: uuid.UUID, worker_id: str, now: datetime) -> None:
    call = await repository.get_call(session, call_id)
    if call is not None and call.placed_at is None:
        call.placed_at = now
        call.worker_id = worker_id


async def mark_ringing(session: AsyncSession, call_id: uuid.UUID) -> None:
    call = await repository.get_call(session, call_id)
    if call is not None and call.status == CallStatus.dialing.value:
        call.status = CallStatus.ringing.value


async def mark_answered(session: AsyncSession, call_id: uuid.UUID, *, machine: bool, now: datetime) -> Call | None:
    """The callee answered: a person counts toward the abandon rate's denominator; a machine does not."""
    call = await repository.get_call(session, call_id)
    if call is None or call.ended_at is not None:
        return None
    call.answered_at = call.answered_at or now
    call.status = CallStatus.answered.value
    if not machine and call.campaign_id is not None:
        await repository.bump_hourly(session, call.tenant_id, call.campaign_id, now, answered=1)
    return call


async def reserve_agent(
    session: AsyncSession, call_id: uuid.UUID, registered: Sequence[str], *, now: datetime
) -> repository.AgentRow | None:
    """The campaign's longest-idle available, registered agent, reserved for this call; None if nobody can."""
    call = await repository.get_call(session, call_id)
    if call is None or call.campaign_id is None or call.ended_at is not None:
        return None
    found = await repository.reserve_longest_idle(session, call.campaign_id, registered, call_id=call.id, now=now)
    if found is None:
        return None
    row, change = found
    call.agent_id = row.agent_id
    await agent_events(session, call.tenant_id, [change])
    return row


async def release_agent(session: AsyncSession, call_id: uuid.UUID, *, now: datetime) -> None:
    """The agent reserved for this call did not take it (its leg failed): available again, the call without it."""
    call = await repository.get_call(session, call_id)
    if call is None:
        return
    await _let_agent_go(session, call, now)


async def _let_agent_go(session: AsyncSession, call: Call, now: datetime) -> None:
    """The agent reserved for a call it never talked on is available again, and a dialler's call no longer
    names it (a callback keeps the agent it belongs to): an agent's calls are the calls it took."""
    if call.agent_id is None:
        return
    changes = await repository.move_agents(
        session, [call.agent_id], to="available", now=now, from_states=["reserved"], only_call_id=call.id
    )
    await agent_events(session, call.tenant_id, changes)
    if call.origin == CallOrigin.dialer.value:
        call.agent_id = None
    call.agent_leg_id = None


async def set_agent_leg(session: AsyncSession, call_id: uuid.UUID, leg_id: str) -> None:
    call = await repository.get_call(session, call_id)
    if call is not None:
        call.agent_leg_id = leg_id


async def mark_bridged(session: AsyncSession, call_id: uuid.UUID, *, now: datetime, recording_path: str | None) -> None:
    call = await repository.get_call(session, call_id)
    # An abandoned call stays abandoned: a bridge the switch confirms after the silent-call limit (the bridge was in
    # flight when the timer fired) must not also count it connected, reach its contact or put its agent on a call
    # the dialer is hanging up.
    if call is None or call.ended_at is not None or call.bridged_at is not None or call.abandoned:
        return
    call.status = CallStatus.bridged.value
    call.bridged_at = now
    call.recording_path = recording_path
    if call.agent_id is not None:
        changes = await repository.move_agents(
            session,
            [call.agent_id],
            to="on_call",
            now=now,
            from_states=["reserved"],
            current_call_id=call.id,
            only_call_id=call.id,
        )
        await agent_events(session, call.tenant_id, changes)
    if call.contact_id is not None:
        contact = await repository.contact_for_update(session, call.contact_id)
        if contact is not None and contact.status == "dialing":
            contact.status = "connected"
    if call.campaign_id is not None:
        await repository.bump_hourly(session, call.tenant_id, call.campaign_id, now, connected=1)
    await call_event(session, call, EVENT_ANSWERED, now)


async def mark_abandoned(session: AsyncSession, call_id: uuid.UUID, *, now: datetime) -> Call | None:
    """No agent took the answered callee within the silent-call limit: the call is abandoned (counted once)."""
    call = await repository.get_call(session, call_id)
    if call is None or call.ended_at is not None or call.bridged_at is not None or call.abandoned:
        return None
    call.abandoned = True
    await _let_agent_go(session, call, now)
    if call.campaign_id is not None:
        await repository.bump_hourly(session, call.tenant_id, call.campaign_id, now, abandoned=1)
    await call_event(session, call, EVENT_ABANDONED, now)
    return call


# -- the end of a call -------------------------------------------------------------------------------------------


async def end_call(
    session: AsyncSession,
    call_id: uuid.UUID,
    *,
    outcome: LegOutcome,
    cause: str,
    now: datetime,
    engine_clock_now: datetime | None = None,
) -> Call | None:
    """The customer leg ended: the call's final status and durations, its agent into wrap-up (or back to
    available if it never talked), its contact completed, retried or failed, the attempt recorded for the
    frequency caps, `call.completed`. Idempotent: a call already ended is left alone."""
    call = await repository.get_call(session, call_id, lock=True)
    if call is None or call.ended_at is not None:
        return None
    campaign = await repository.get_campaign(session, call.campaign_id) if call.campaign_id else None
    call.status = outcome.value
    call.hangup_cause = cause[:64]
    call.ended_at = max(now, call.started_at)
    call.duration_seconds = int((call.ended_at - call.started_at).total_seconds())
    bridged_at = call.bridged_at
    call.talk_time_seconds = int((call.ended_at - bridged_at).total_seconds()) if bridged_at else 0
    if call.agent_id is not None and bridged_at is not None:
        wrap_up = campaign.wrap_up_seconds if campaign is not None else DEFAULT_WRAP_UP_SECONDS
        changes = await repository.move_agents(
            session,
            [call.agent_id],
            to="wrap_up",
            now=now,
            from_states=["on_call", "reserved"],
            current_call_id=call.id,
            only_call_id=call.id,
            wrap_up_until=now + timedelta(seconds=wrap_up),
        )
        await agent_events(session, call.tenant_id, changes)
    else:
        await _let_agent_go(session, call, now)
    if call.contact_id is not None:
        contact = await repository.contact_for_update(session, call.contact_id)
        if contact is not None:
            _settle_contact(contact, call, campaign, now)
    human = call.answered_at is not None and outcome is not LegOutcome.voicemail
    await compliance_service.record_attempt(
        session,
        call.tenant_id,
        phone=call.contact_phone,
        attempted_at=call.started_at,
        answered=human and bridged_at is not None,
        campaign_id=call.campaign_id,
    )
    await call_event(session, call, EVENT_COMPLETED, now)
    return call


def _settle_contact(contact: Contact, call: Call, campaign: Campaign | None, now: datetime) -> None:
    if contact.status not in ("dialing", "connected"):
        # Marked `dnc` (or settled by a disposition) while the call was up: that word stands.
        return
    if call.bridged_at is not None:
        contact.status = "completed"
        return
    retry = call.status != CallStatus.failed.value or (call.hangup_cause or "") not in NO_RETRY_CAUSES
    max_attempts = campaign.max_attempts if campaign is not None else contact.attempts
    if not retry or contact.attempts >= max_attempts:
        contact.status = "failed"
        return
    delay = timedelta(minutes=campaign.retry_delay_minutes if campaign is not None else 60)
    if call.abandoned and campaign is not None:
        # The silent-call rule: an abandoned number is not called again within the lockout (Ofcom: 72 h).
        delay = max(delay, timedelta(hours=campaign.abandon_lockout_hours))
    contact.status = "pending"
    contact.next_attempt_at = now + delay


# -- agents ------------------------------------------------------------------------------------------------------


async def end_wrap_ups(
    session: AsyncSession, tenant_id: uuid.UUID, agent_ids: Sequence[uuid.UUID], now: datetime
) -> int:
    due = await repository.due_wrap_ups(session, agent_ids, now)
    changes = await repository.move_agents(session, due, to="available", now=now, from_states=["wrap_up"])
    await agent_events(session, tenant_id, changes)
    return len(changes)


# -- the API's control requests (dialer.control) -------------------------------------------------------------------


async def block_contact(
    session: AsyncSession, campaign: Campaign, contact: Contact, decision: Decision, *, now: datetime
) -> None:
    """A contact the compliance gate refused, handled as the hopper handles one (rescheduled, `dnc`, failed or
    waiting, by the blocking rule; its preview reservation cleared) with its `call.compliance_blocked` event:
    a preview dial refused by compliance ends the same way as a dialer attempt."""
    await _block(session, campaign, contact, decision, now=now)
