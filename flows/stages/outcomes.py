"""Outcome rules, recurrence links, follow-up dates and no-show tasks, applied to the database.

The daily flow calls :func:`apply_outcome_rules` and :func:`create_follow_up_tasks`
after ingest and matching; both return counts only and can be rerun for the same
date without changing anything a second time. The advisor's recordings
(``kvarboende record`` / ``episodes close``) go through :func:`record_activity`
and :func:`close_episode`, which write an Activity or a transition plus an audit
entry with who and when.
"""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
from sqlalchemy import Engine

from domain.formatting import STOCKHOLM
from domain.outcomes import ActivityKind, OutcomeRules, decide_outcomes, plan_follow_up_tasks
from domain.rhythm import silence_frame
from domain.vocabulary import EpisodeStatus, Outcome, OutcomeCertainty
from models.config import Settings
from models.db import session_scope
from services import episodes, outcomes
from services.episodes import (  # noqa: F401 - re-exported for the stage's callers
    ClosedEpisode,
    candidate_condition,
    load_interventions,
)
from services.rhythm import company_rhythms


def rules_from(settings: Settings) -> OutcomeRules:
    """The outcome rules as configured in ``[outcomes]``."""
    cfg = settings.outcomes
    return OutcomeRules(
        follow_up_days=cfg.follow_up_days,
        follow_up_check_days=cfg.follow_up_check_days,
        presume_settled_statuses=tuple(cfg.presume_settled_statuses),
        recurrence_months=cfg.recurrence_months,
    )


def apply_outcome_rules(engine: Engine, settings: Settings, run_date: date) -> dict[str, int]:
    """Close every episode whose outcome the rules can tell today; counts per outcome.

    One transaction: outcome decisions (status → closed with a transition, outcome,
    date, source and certainty), presumed outcomes confirmed by late reports, recurrence
    links and refreshed follow-up dates. A rerun for the same date finds nothing new.
    """
    rules = rules_from(settings)
    with session_scope(engine) as session:
        rhythms = company_rhythms(session, settings)
        waits = silence_frame(rhythms, rules.follow_up_days, rules.follow_up_check_days)
        facts = outcomes.load_facts(session, waits)
        interventions = load_interventions(session)
        decisions = decide_outcomes(facts, interventions, run_date, rules)
        closed = outcomes.store_decisions(session, decisions)
        follow_ups = outcomes.store_follow_up_dates(
            session, facts.filter(~pl.col("episode_id").is_in(decisions["episode_id"])), rules
        )
        recurrences = outcomes.store_recurrences(session, rules.recurrence_months)
    counts = {"episodes_checked": facts.height, "closed": closed}
    confirmed_later = decisions.filter(pl.col("from_status") == EpisodeStatus.CLOSED).height
    counts["confirmed_after_presumed"] = confirmed_later
    for outcome in Outcome:
        for certainty in (OutcomeCertainty.CONFIRMED, OutcomeCertainty.PRESUMED, None):
            n = decisions.filter(
                (pl.col("outcome") == outcome)
                & (
                    pl.col("outcome_certainty").is_null()
                    if certainty is None
                    else pl.col("outcome_certainty") == certainty
                )
            ).height
            if n:
                counts[f"{outcome}_{certainty or 'uncertain'}"] = n
    counts["follow_up_dates_set"] = follow_ups
    counts["recurrence_links_made"] = recurrences
    return counts


def create_follow_up_tasks(engine: Engine, settings: Settings, run_date: date) -> dict[str, int]:
    """Create the no-show tasks due by the Malmö routine; close those that are moot.

    Unique per episode, kind and round, so a rerun creates nothing twice. Open tasks of
    episodes that are no longer open are cancelled; open tasks of households reached
    since the missed meeting are done.
    """
    cfg = settings.outcomes
    with session_scope(engine) as session:
        no_shows = outcomes.load_no_shows(session)
        contacts = outcomes.load_contacts(session)
        planned = plan_follow_up_tasks(
            no_shows, contacts, run_date, cfg.phone_call_days, cfg.home_visit_days
        )
        created = outcomes.insert_tasks(session, planned)
        cancelled = outcomes.close_moot_tasks(session)
        done = outcomes.close_reached_tasks(session, no_shows, contacts)
    return {
        "no_shows": no_shows.height,
        "tasks_planned": planned.height,
        "tasks_created": created,
        "tasks_cancelled": cancelled,
        "tasks_done_by_contact": done,
    }


# --- what the advisor records -------------------------------------------------------------
# The rules live in services.episodes; these open a transaction for callers holding an engine.


def record_activity(
    engine: Engine,
    episode_id: int,
    kind: ActivityKind,
    *,
    by: str,
    on_date: date,
    text: str | None = None,
) -> int:
    """Store what the advisor did (see :func:`services.episodes.record_activity`); its id."""
    with session_scope(engine) as session:
        recorded = episodes.record_activity(
            session, episode_id, kind, by=by, on_date=on_date, text=text
        )
        return recorded.activity_id


def record_children(engine: Engine, episode_id: int, count: int, *, by: str) -> None:
    """Record how many children live in the household (see :mod:`services.episodes`)."""
    with session_scope(engine) as session:
        episodes.record_children(session, episode_id, count, by=by)


def close_episode(
    engine: Engine,
    episode_id: int,
    outcome: str,
    *,
    by: str,
    on_date: date,
    text: str | None = None,
) -> ClosedEpisode:
    """Close an episode by hand (see :func:`services.episodes.close_episode`)."""
    with session_scope(engine) as session:
        return episodes.close_episode(
            session, episode_id, outcome, by=by, on_date=on_date, text=text
        )


def local_today() -> date:
    """Today in Stockholm: the default run date of every command."""
    return datetime.now(STOCKHOLM).date()
