"""Campaign diagnostics (GET /v1/campaigns/{id}/diagnostics): whether a campaign is dialling right now and,
precisely, why not — a campaign that silently does nothing is the first complaint about dialers.

It reads what the worker reads and runs what the worker runs: the pacing snapshot comes from `snapshots` (the
builder the worker uses; the SIP registrations from `sip_registrations`, the lines from the calls table) and is
decided by a pacer of the campaign's mode; the lease holder and its switch connectivity come from the worker's own
heartbeat. Calling hours come from the compliance rule book's `next_permitted`, evaluated for one representative
number per jurisdiction and zone of the remaining contacts: pure, no decision is audited.

Invariant: a bounded number of queries whatever the campaign holds (about ten: the campaign, its agents, their
registrations, its live calls, recent calls, rolling counts, lease, contact counts by status, pending contacts
grouped by number prefix, recent compliance denials by rule).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from engage.campaigns import service as campaigns
from engage.campaigns.models import Campaign
from engage.campaigns.schemas import CampaignStatus, DialingMode
from engage.compliance import service as compliance
from engage.compliance.engine import Channel
from engage.compliance.service import RuleBook
from engage.core.clock import isoformat_z

from . import repository, snapshots
from .diagnostics_schemas import (
    AgentCounts,
    CallingWindow,
    CampaignDiagnostics,
    ContactCounts,
    DiagnosticReason,
    LeaseRead,
    PacerRead,
    ReasonCode,
)
from .modes import pacer_for
from .pacing import PacingDecision
from .repository import AgentRow, LeaseHolder, PendingGroup
from .snapshots import PacingLimits

# The compliance denials `blocked` reports: the same rolling day the abandon rate is measured on.
DENIALS_WINDOW = timedelta(hours=24)
_BUSY = frozenset({"reserved", "on_call", "wrap_up"})
_AWAY = frozenset({"break", "lunch", "training"})


async def diagnose(
    session: AsyncSession,
    campaign_id: uuid.UUID,
    *,
    now: datetime,
    book: RuleBook,
    limits: PacingLimits,
    lease_stale_seconds: int,
) -> CampaignDiagnostics:
    """The campaign's diagnosis at `now`, inside the request's tenant transaction (another tenant's id is the
    campaign's 404)."""
    await campaigns.ensure_exists(session, campaign_id)
    campaign = await repository.get_campaign(session, campaign_id)
    if campaign is None:  # gone between the two reads
        raise campaigns.not_found(campaign_id)
    agents = await repository.campaign_agents(session, campaign.id)
    registered = await repository.registered_sip_users(session, {a.sip_user for a in agents if a.sip_user})
    live = await repository.live_calls(session, campaign.id)
    snapshot = await snapshots.pacing_snapshot(
        session,
        campaign,
        now=now,
        registered=registered,
        limits=limits,
        agents=agents,
        lines=snapshots.lines_of(live, now),
    )
    decision = pacer_for(campaign.dialing_mode).decide(snapshot)
    holder = await repository.lease_holder(session, campaign.id)
    statuses = await repository.contact_status_counts(session, campaign.id)
    groups = await repository.pending_groups(session, campaign, now)
    denials = await compliance.denials_by_rule(session, campaign.id, Channel.dialer, now - DENIALS_WINDOW)

    agent_counts = _agent_counts(agents, registered)
    windows, open_prefixes = _calling_windows(groups, campaign, book, now)
    contacts = _contact_counts(statuses, groups, windows, open_prefixes)
    lease = _lease(holder, now, lease_stale_seconds)
    active = campaign.status == CampaignStatus.active.value
    switch_up = lease is not None and lease.switch_connected is not False
    working = active and lease is not None and lease.fresh and switch_up
    dialing = working and (bool(live) or (decision.lines > 0 and contacts.dialable_now > 0))
    facts = _Facts(campaign, agents, registered, agent_counts, contacts, lease, len(live), decision, denials, now)
    reasons = _reasons(facts, lease_stale_seconds)
    return CampaignDiagnostics(
        campaign_id=campaign.id,
        status=CampaignStatus(campaign.status),
        dialing=dialing,
        reasons=sorted(reasons, key=lambda reason: not reason.blocking),
        agents=agent_counts,
        contacts=contacts,
        lease=lease,
        lines_in_flight=len(live),
        pacer=PacerRead(
            mode=DialingMode(campaign.dialing_mode),
            lines_wanted=decision.lines,
            reason=decision.reason,
            figures=dict(decision.figures),
        ),
        as_of=now,
    )


# -- the parts ---------------------------------------------------------------------------------------------------


def _agent_counts(agents: Sequence[AgentRow], registered: set[str]) -> AgentCounts:
    def is_registered(agent: AgentRow) -> bool:
        return agent.sip_user is not None and agent.sip_user in registered

    return AgentCounts(
        assigned=len(agents),
        logged_in=sum(1 for a in agents if a.state != "offline"),
        available=sum(1 for a in agents if a.state == "available"),
        registered=sum(1 for a in agents if is_registered(a)),
        busy=sum(1 for a in agents if a.state in _BUSY),
        away=sum(1 for a in agents if a.state in _AWAY),
        ready=sum(1 for a in agents if a.state == "available" and is_registered(a)),
    )


def _calling_windows(
    groups: Sequence[PendingGroup], campaign: Campaign, book: RuleBook, now: datetime
) -> tuple[list[CallingWindow], set[str]]:
    """Per jurisdiction and zone of the remaining contacts, whether calling is permitted now and when it opens;
    and the number prefixes whose contacts may be called now."""
    window = None
    if campaign.calling_window_start is not None and campaign.calling_window_end is not None:
        window = (campaign.calling_window_start, campaign.calling_window_end)
    merged: dict[tuple[str | None, str | None], CallingWindow] = {}
    open_prefixes: set[str] = set()
    for group in groups:
        if group.sample is None or group.remaining == 0:
            continue
        place = compliance.next_opening(group.sample, window, book, now)
        open_now = place.opens_at is not None and place.opens_at <= now
        if open_now:
            open_prefixes.add(group.prefix)
        key = (place.jurisdiction, place.timezone)
        seen = merged.get(key)
        if seen is None:
            merged[key] = CallingWindow(
                jurisdiction=place.jurisdiction,
                timezone=place.timezone,
                contacts=group.remaining,
                open_now=open_now,
                opens_at=place.opens_at,
            )
        else:
            seen.contacts += group.remaining
    return sorted(merged.values(), key=lambda w: (w.jurisdiction or "~", w.timezone or "")), open_prefixes


def _earliest(instants: Sequence[datetime | None]) -> datetime | None:
    known = [instant for instant in instants if instant is not None]
    return min(known) if known else None


def _contact_counts(
    statuses: dict[str, int], groups: Sequence[PendingGroup], windows: list[CallingWindow], open_prefixes: set[str]
) -> ContactCounts:
    return ContactCounts(
        total=sum(statuses.values()),
        by_status=dict(sorted(statuses.items())),
        remaining=sum(g.remaining for g in groups),
        dialable_now=sum(g.due for g in groups if g.prefix in open_prefixes),
        waiting_for_retry=sum(g.waiting for g in groups),
        next_retry_at=_earliest([g.next_at for g in groups]),
        held_for_preview=sum(g.held for g in groups),
        callbacks_scheduled=sum(g.callbacks for g in groups),
        next_callback_at=_earliest([g.next_callback_at for g in groups]),
        calling_windows=windows,
    )


def _lease(holder: LeaseHolder | None, now: datetime, stale_seconds: int) -> LeaseRead | None:
    if holder is None:
        return None
    age = None if holder.heartbeat_at is None else max(0.0, (now - holder.heartbeat_at).total_seconds())
    return LeaseRead(
        worker_id=holder.worker_id,
        hostname=holder.hostname,
        pid=holder.pid,
        acquired_at=holder.acquired_at,
        heartbeat_at=holder.heartbeat_at,
        heartbeat_age_seconds=None if age is None else round(age, 1),
        fresh=age is not None and age < stale_seconds,
        switch_connected=holder.switch_connected,
    )


# -- the reasons ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Facts:
    campaign: Campaign
    agents: Sequence[AgentRow]
    registered: set[str]
    agent_counts: AgentCounts
    contacts: ContactCounts
    lease: LeaseRead | None
    lines_in_flight: int
    decision: PacingDecision
    denials: Sequence[compliance.Denials]
    now: datetime


def _reasons(facts: _Facts, stale_seconds: int) -> list[DiagnosticReason]:
    return [
        *_campaign_reasons(facts, stale_seconds),
        *_agent_reasons(facts),
        *_contact_reasons(facts),
        *_pacer_reasons(facts),
        *_denial_reasons(facts),
    ]


def _campaign_reasons(facts: _Facts, stale_seconds: int) -> list[DiagnosticReason]:
    status, lease = facts.campaign.status, facts.lease
    if status != CampaignStatus.active.value:
        return [
            DiagnosticReason(
                code=ReasonCode.campaign_not_active,
                blocking=True,
                message=f"The campaign is {status}; only an active campaign is dialled.",
                details={"status": status},
            )
        ]
    reasons = []
    if lease is None:
        reasons.append(
            DiagnosticReason(
                code=ReasonCode.no_worker,
                blocking=True,
                message="No dialer worker has taken the campaign: check that a worker is running (`engage worker`, "
                "or `engage serve` with the in-process dialer) and can reach the database.",
            )
        )
    elif not lease.fresh:
        age = "never" if lease.heartbeat_age_seconds is None else f"{lease.heartbeat_age_seconds:g} s ago"
        reasons.append(
            DiagnosticReason(
                code=ReasonCode.no_worker,
                blocking=True,
                message=f"The worker {lease.worker_id} holding the campaign last reported {age} (a lease is stale "
                f"after {stale_seconds} s): it has stopped; a live worker takes the campaign over.",
                details={"worker_id": lease.worker_id, "heartbeat_age_seconds": lease.heartbeat_age_seconds},
            )
        )
    if lease is not None and lease.switch_connected is False:
        reasons.append(
            DiagnosticReason(
                code=ReasonCode.switch_disconnected,
                blocking=True,
                message=f"The worker {lease.worker_id} pacing the campaign has lost its connection to the switch "
                "(FreeSWITCH event socket); it reconnects by itself, no call is placed meanwhile.",
                details={"worker_id": lease.worker_id, "hostname": lease.hostname},
            )
        )
    return reasons


def _agent_reasons(facts: _Facts) -> list[DiagnosticReason]:
    counts = facts.agent_counts
    if counts.assigned == 0:
        return [
            DiagnosticReason(
                code=ReasonCode.no_agents_assigned,
                blocking=True,
                message="No agent is assigned to the campaign (POST /v1/campaigns/{id}/agents).",
            )
        ]
    if counts.logged_in == 0:
        return [
            DiagnosticReason(
                code=ReasonCode.no_agents_logged_in,
                blocking=True,
                message=f"None of the {counts.assigned} agents assigned to the campaign is logged in.",
                details={"assigned": counts.assigned},
            )
        ]
    if counts.ready > 0:
        return []
    unregistered = [
        {"agent_id": str(a.agent_id), "full_name": a.full_name, "sip_user": a.sip_user}
        for a in facts.agents
        if a.state == "available" and (a.sip_user is None or a.sip_user not in facts.registered)
    ]
    if unregistered:
        names = ", ".join(f"{a['full_name']} ({a['sip_user'] or 'no SIP user'})" for a in unregistered)
        return [
            DiagnosticReason(
                code=ReasonCode.no_agents_registered,
                blocking=True,
                message=f"Every available agent's phone is unregistered with the switch: {names}.",
                details={"agents": list(unregistered)},
            )
        ]
    # The predictive model dials ahead for agents finishing their calls; the others wait for a free agent.
    ahead = facts.campaign.dialing_mode == DialingMode.predictive.value and counts.busy > 0
    return [
        DiagnosticReason(
            code=ReasonCode.no_agents_available,
            blocking=not ahead,
            message=f"No agent is available: {counts.busy} busy (reserved, on a call or in wrap-up), "
            f"{counts.away} on break, lunch or training.",
            details={"busy": counts.busy, "away": counts.away},
        )
    ]


def _contact_reasons(facts: _Facts) -> list[DiagnosticReason]:
    contacts = facts.contacts
    if contacts.remaining == 0 and contacts.callbacks_scheduled == 0:
        tail = (
            f" beyond the {facts.lines_in_flight} call(s) in flight; the campaign completes itself once they end, "
            "unless one of their contacts is to be retried"
            if facts.lines_in_flight
            else ""
        )
        return [
            DiagnosticReason(
                code=ReasonCode.list_exhausted,
                blocking=True,
                message=f"No contact is left to dial{tail}.",
                details={"by_status": dict(contacts.by_status)},
            )
        ]
    reasons = []
    windows = contacts.calling_windows
    if contacts.remaining > 0 and not any(w.open_now for w in windows):
        openings = "; ".join(
            f"{w.jurisdiction or 'unknown'} ({w.timezone or 'no zone'}): "
            f"{isoformat_z(w.opens_at) if w.opens_at else 'not within 14 days'}"
            for w in windows
        )
        reasons.append(
            DiagnosticReason(
                code=ReasonCode.outside_calling_window,
                blocking=True,
                message=f"Every remaining contact is outside its permitted calling hours now. Next openings: "
                f"{openings}.",
                details={
                    "jurisdictions": [
                        {
                            "jurisdiction": w.jurisdiction,
                            "timezone": w.timezone,
                            "contacts": w.contacts,
                            "opens_at": isoformat_z(w.opens_at) if w.opens_at else None,
                        }
                        for w in windows
                    ]
                },
            )
        )
    if contacts.remaining > 0 and contacts.waiting_for_retry == contacts.remaining:
        due = isoformat_z(contacts.next_retry_at) if contacts.next_retry_at else None
        reasons.append(
            DiagnosticReason(
                code=ReasonCode.waiting_for_retries,
                blocking=True,
                message=f"All {contacts.remaining} remaining contacts wait for a later attempt; the next is due at "
                f"{due}.",
                details={"count": contacts.waiting_for_retry, "next_retry_at": due},
            )
        )
    return reasons


def _pacer_reasons(facts: _Facts) -> list[DiagnosticReason]:
    decision = facts.decision
    if decision.lines > 0 or facts.campaign.status != CampaignStatus.active.value:
        return []
    return [
        DiagnosticReason(
            code=ReasonCode.pacer_holding_back,
            blocking=facts.lines_in_flight == 0,
            message=f"The {facts.campaign.dialing_mode} pacer wants no new line now: {decision.reason}.",
            details={"pacer_reason": decision.reason, "lines_in_flight": facts.lines_in_flight},
        )
    ]


def _denial_reasons(facts: _Facts) -> list[DiagnosticReason]:
    if not facts.denials:
        return []
    summary = ", ".join(f"{d.rule} {d.numbers}" for d in facts.denials)
    return [
        DiagnosticReason(
            code=ReasonCode.blocked,
            blocking=False,
            message=f"The compliance gate refused numbers of this campaign in the last 24 h (numbers per rule): "
            f"{summary}.",
            details={
                "since": isoformat_z(facts.now - DENIALS_WINDOW),
                "rules": [
                    {"rule": d.rule, "numbers": d.numbers, "decisions": d.decisions, "last_at": isoformat_z(d.last_at)}
                    for d in facts.denials
                ],
            },
        )
    ]
