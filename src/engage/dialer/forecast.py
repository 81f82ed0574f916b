"""The staffing forecast (POST /v1/campaigns/{id}/forecast): what a campaign would do with N agents.

It runs the pacer of the campaign's own dialing mode (`modes.pacer_for`, the object the worker uses) in the
seeded floor simulation (`simulation.simulate`). The callees of the simulation behave as the campaign's
last 400 decided calls say: the answer rate is the posterior mean under the predictive model's prior, the
predictive `Estimates` give the log-normal times to answer and talk times, the calls that ended early without
a person (busy, rejected, failed) give the share and range of early ends, and the rest ring out at the ring
timeout. The simulated pacer is told none of this: it learns from the simulated calls, as it would on the
floor.

Invariants:
- Reads only; the route releases its transaction before simulating, so no connection is held by CPU work.
- Bounded: the seeds share one CPU budget (`BUDGET_SECONDS`) and run in a worker thread, so the event loop
  keeps serving. A run the budget cuts short is reported as such (`simulated_hours` < `hours`); later seeds
  then cover the same span as the first, so the pooled rates compare like with like.
- Repeatable: fixed seeds, so the same campaign state and request give the same forecast, and forecasts for
  different floor sizes share their random numbers (a fairer comparison of 5 against 10 agents).
- Preview campaigns are refused (409): the dialer never dials for them, so there is nothing to forecast.

When the list runs out: each contact still to dial needs, with k attempts left and a person answering a dial
with chance p, E = sum_{i<k} (1-p)^i = (1 - (1-p)^k) / p more dials (a contact being dialled now needs them
only if this dial fails: (1-p) E). The total over dials per hour is the time left. Retry delays and calling
hours are not modelled, so it is the earliest the list can run out at that floor size.

The two queries live here rather than in `repository.py` while that file is being reworked; they are
tenant-scoped by row-level security like every query of the request's transaction.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from engage.campaigns import service as campaigns
from engage.contacts.models import Contact
from engage.core.clock import Clock
from engage.core.errors import Conflict

from . import repository
from .modes import pacer_for
from .pacing import CampaignHistory
from .predictive import PRIOR_DIALS, PRIOR_SAMPLES, Estimates, LogNormal
from .simulation import HISTORY_SIZE, Result, Scenario, simulate

log = structlog.get_logger("engage.dialer.forecast")

# CPU time one forecast may spend simulating, all seeds together. Measured here: 2 s covers 8 h of a
# progressive or power floor of 10 agents, or about 2 h of a predictive one; larger floors get less.
BUDGET_SECONDS = 2.0
SEEDS = (1, 2, 3)
# A dial that ended without a person this long before the ring timeout did not ring out: busy, rejected or
# failed (a ring-out ends at the timeout, give or take the switch's timer).
EARLY_END_MARGIN_SECONDS = 1.0
# DESIGN.md §3: a person answered and not bridged within 2 s is abandoned.
ABANDON_AFTER_SECONDS = 2.0


class ForecastNotAvailable(Conflict):
    slug = "forecast-not-available"
    title = "No forecast for this campaign"


# -- what the campaign says ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RemainingGroup:
    """Contacts still to dial with the same state and attempts so far."""

    dialing: bool  # being dialled now (its attempt is already counted)
    callback: bool  # a callback an agent asked for: dialled once more whatever its attempts
    attempts: int
    count: int


@dataclass(frozen=True, slots=True)
class ForecastInputs:
    campaign_id: uuid.UUID
    dialing_mode: str
    max_attempts: int
    dial_ratio: float
    wrap_up_seconds: int
    abandon_rate_target: float
    ring_timeout_seconds: int
    history: CampaignHistory
    remaining: tuple[RemainingGroup, ...]
    now: datetime


async def remaining_contacts(session: AsyncSession, campaign_id: uuid.UUID) -> tuple[RemainingGroup, ...]:
    """Contacts still to dial, counted by state, callback and attempts: a few dozen rows whatever the list
    holds (attempts are at most 20), from `ix_contacts_campaign_id_status`."""
    dialing = Contact.status == "dialing"
    callback = Contact.callback_agent_id.is_not(None)
    query = (
        select(dialing, callback, Contact.attempts, func.count())
        .where(Contact.campaign_id == campaign_id, Contact.status.in_(("pending", "dialing")))
        .group_by(dialing, callback, Contact.attempts)
    )
    rows = (await session.execute(query)).all()
    return tuple(RemainingGroup(bool(d), bool(c), int(a), int(n)) for d, c, a, n in rows)


async def gather(
    session: AsyncSession, campaign_id: uuid.UUID, *, ring_timeout_seconds: int, clock: Clock
) -> ForecastInputs:
    """Everything the forecast reads, in the caller's transaction. Unknown or another tenant's campaign: the
    campaign's 404, as GET /v1/campaigns/{id} answers it. Preview: 409."""
    campaign = (await campaigns.get_campaign(session, campaign_id, clock=clock)).campaign
    if campaign.dialing_mode == "preview":
        raise ForecastNotAvailable(
            "Preview campaigns are dialled by their agents one contact at a time; the dialer paces nothing, so "
            "there is nothing to forecast. Forecast it in progressive, power or predictive mode instead."
        )
    return ForecastInputs(
        campaign_id=campaign.id,
        dialing_mode=campaign.dialing_mode,
        max_attempts=campaign.max_attempts,
        dial_ratio=float(campaign.dial_ratio),
        wrap_up_seconds=campaign.wrap_up_seconds,
        abandon_rate_target=float(campaign.abandon_rate_target),
        ring_timeout_seconds=ring_timeout_seconds,
        history=await repository.recent_history(session, campaign.id, HISTORY_SIZE),
        remaining=await remaining_contacts(session, campaign.id),
        now=clock.now(),
    )


# -- the callees, from the estimates -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Callees:
    """How the campaign's callees behave, in the simulation's terms."""

    estimates: Estimates
    # The posterior mean share of dials a person answers. Not `estimates.answer_rate`, which the pacer may
    # lean towards caution (more answers than expected is what abandons callers): the simulated callees must
    # answer as often as the real ones are expected to.
    answer_rate: float
    early_end_rate: float  # of all dials
    early_end_seconds: tuple[float, float]
    priors_dominate: bool


def _mean_sd(distribution: LogNormal) -> tuple[float, float]:
    mean = distribution.mean
    return mean, mean * math.sqrt(math.expm1(distribution.sigma**2))


def callees_of(history: CampaignHistory, ring_timeout_seconds: float) -> Callees:
    estimates = Estimates.from_history(history, ring_timeout_seconds)
    samples = history.recent
    humans = sum(1 for s in samples if s.human)
    answer_rate = estimates.answer_rate_mean
    others = [s.ring_seconds for s in samples if not s.human]
    early = sorted(ring for ring in others if ring < ring_timeout_seconds - EARLY_END_MARGIN_SECONDS)
    # The estimated non-answer share (priors blended in) split as the observed non-answers split.
    early_rate = (1.0 - answer_rate) * len(early) / len(others) if others else 0.0
    # The estimators weigh their priors as PRIOR_DIALS dials and PRIOR_SAMPLES times: with fewer real ones
    # behind any figure, that figure is more prior than campaign.
    priors = len(samples) < PRIOR_DIALS or humans < PRIOR_SAMPLES or len(history.talks) < PRIOR_SAMPLES
    return Callees(estimates, answer_rate, early_rate, (early[0], early[-1]) if early else (0.0, 0.0), priors)


def scenario_for(inputs: ForecastInputs, callees: Callees, *, agents: int, hours: float) -> Scenario:
    estimates = callees.estimates
    return Scenario(
        agents=agents,
        hours=hours,
        human_answer=callees.answer_rate,
        busy=callees.early_end_rate,
        fast_failure=0.0,
        ring_timeout_seconds=float(inputs.ring_timeout_seconds),
        time_to_answer=_mean_sd(estimates.time_to_answer),
        talk=_mean_sd(estimates.talk),
        busy_seconds=callees.early_end_seconds,
        wrap_up_seconds=float(inputs.wrap_up_seconds),
        abandon_after_seconds=ABANDON_AFTER_SECONDS,
        dial_ratio=inputs.dial_ratio,
        abandon_rate_target=inputs.abandon_rate_target,
    )


# -- simulating ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pooled:
    """The seeds' results pooled: `total` adds their counts and seconds, so its rates are totals over total
    simulated time, not means of rates."""

    seeds: tuple[int, ...]
    simulated_seconds: float  # the span every seed covered
    total: Result

    @property
    def occupancy(self) -> float:
        return self.total.occupancy

    @property
    def abandon_rate(self) -> float:
        return self.total.abandon_rate

    @property
    def connects_per_hour(self) -> float:
        return self.total.connects_per_hour

    @property
    def dials_per_hour(self) -> float:
        return self.total.dials_per_hour


def simulate_seeds(scenario: Scenario, mode: str, seeds: Sequence[int], budget_seconds: float) -> Pooled:
    """Each seed with a fresh pacer of `mode`, sharing `budget_seconds` of CPU: a seed gets its share of what is
    left, so time a quick seed leaves over goes to the next. Blocking: run it in a thread."""
    deadline = time.monotonic() + budget_seconds
    results: list[Result] = []
    for index, seed in enumerate(seeds):
        left = deadline - time.monotonic()
        if results and left <= 0:
            break
        result = simulate(scenario, pacer_for(mode), seed, budget_seconds=max(left, 0.0) / (len(seeds) - index))
        results.append(result)
        if result.seconds <= 0:
            break
        if not result.completed:
            # The next seeds cover the span this one reached, no more: the pooled rates then weigh every seed
            # over the same stretch of the shift.
            scenario = replace(scenario, hours=result.seconds / 3600.0)
    total = Result(
        seconds=sum(result.seconds for result in results),
        agents=scenario.agents,
        dials=sum(result.dials for result in results),
        human_answers=sum(result.human_answers for result in results),
        connects=sum(result.connects for result in results),
        abandoned=sum(result.abandoned for result in results),
        talk_seconds=sum(result.talk_seconds for result in results),
    )
    return Pooled(
        seeds=tuple(seeds[: len(results)]),
        simulated_seconds=min(result.seconds for result in results),
        total=total,
    )


# -- the forecast ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Forecast:
    inputs: ForecastInputs
    callees: Callees
    agents: int
    hours: float
    pooled: Pooled
    contacts_remaining: int
    expected_dials_remaining: float
    list_exhausted_at: datetime | None


def expected_dials(remaining: Sequence[RemainingGroup], max_attempts: int, answer_rate: float) -> tuple[int, float]:
    """(contacts still to dial, the dials they are expected to take), as the module docstring derives."""
    p = min(max(answer_rate, 1e-6), 1.0)
    contacts = 0
    dials = 0.0
    for group in remaining:
        left = max_attempts - group.attempts
        if group.callback and not group.dialing:
            left = max(left, 1)
        if left <= 0 and not group.dialing:
            continue  # out of attempts: the dialer will not try it again
        contacts += group.count
        expected = (1.0 - (1.0 - p) ** max(left, 0)) / p
        dials += group.count * ((1.0 - p) * expected if group.dialing else expected)
    return contacts, dials


async def run(inputs: ForecastInputs, *, agents: int, hours: float, budget_seconds: float = BUDGET_SECONDS) -> Forecast:
    callees = callees_of(inputs.history, inputs.ring_timeout_seconds)
    scenario = scenario_for(inputs, callees, agents=agents, hours=hours)
    started = time.monotonic()
    pooled = await asyncio.to_thread(simulate_seeds, scenario, inputs.dialing_mode, SEEDS, budget_seconds)
    contacts, dials = expected_dials(inputs.remaining, inputs.max_attempts, callees.answer_rate)
    exhausted_at: datetime | None = None
    if contacts == 0:
        exhausted_at = inputs.now
    elif pooled.dials_per_hour > 0:
        hours_left = dials / pooled.dials_per_hour
        if hours_left <= hours:
            exhausted_at = inputs.now + timedelta(hours=hours_left)
    log.info(
        "forecast.computed",
        campaign_id=str(inputs.campaign_id),
        agents=agents,
        hours=hours,
        simulated_hours=round(pooled.simulated_seconds / 3600.0, 3),
        seeds=len(pooled.seeds),
        elapsed_ms=round(1000 * (time.monotonic() - started)),
    )
    return Forecast(
        inputs=inputs,
        callees=callees,
        agents=agents,
        hours=hours,
        pooled=pooled,
        contacts_remaining=contacts,
        expected_dials_remaining=dials,
        list_exhausted_at=exhausted_at,
    )
