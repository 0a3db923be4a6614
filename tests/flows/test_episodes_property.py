"""Property (issue 15): arrears chains delivered at any rhythm stay one episode each.

Random arrears chains (a termination notice, then up to two later steps, each within
``follow_up_days`` of the one before: the debt is still running) are delivered the way
companies deliver: weekly, monthly or quarterly files, each a random number of days
after its period ended. The real stages run on SQLite (ingest, matching, outcome rules,
follow-up tasks, booking, letters), the advisor records every meeting once it has
passed, and the outcome rules also run the day before every delivery, so a premature
closure for silence would happen before the late notice arrives. Asserted:

* one episode per chain, never a recurrence;
* one first appointment letter per episode;
* no presumed settlement of a chain that later continues (no closure was withdrawn);
* and, so the test can fail, chains that really went quiet are presumed settled.

The company has delivered two periods before the first chain starts: the rhythm is
measured on deliveries, and a company's very first file cannot show its rhythm.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from notice_rows import notice, notice_csv
from sqlalchemy import func, select

from domain.outcomes import add_months

FOLLOW_UP_DAYS = 90
MAX_GAP = 85  # a chain's steps come within follow_up_days of each other: it is running
CHAIN_STEPS = ("payment_order", "decision", "eviction_scheduled")
HISTORY_START = date(2025, 7, 1)


@dataclass(frozen=True)
class Chain:
    number: int
    start_offset: int
    gaps: tuple[int, ...]
    known: bool = False  # in the case register: routed to a caseworker, no letter, no meeting

    @property
    def ref(self) -> str:
        return f"KEDJA{self.number}"

    def events(self, first_day: date) -> list[tuple[str, date]]:
        day = first_day + timedelta(days=self.start_offset)
        out = [("termination_notice", day)]
        for kind, gap in zip(CHAIN_STEPS, self.gaps, strict=False):
            day += timedelta(days=gap)
            out.append((kind, day))
        return out


def _period_ends(rhythm: str, start: date, until: date) -> list[date]:
    """The last day of every reporting period from ``start`` to ``until``."""
    ends, day = [], start
    while day <= until:
        if rhythm == "weekly":
            end = day + timedelta(days=6)
        else:
            months = 1 if rhythm == "monthly" else 3
            end = add_months(day.replace(day=1), months) - timedelta(days=1)
        ends.append(end)
        day = end + timedelta(days=1)
    return ends


chains_strategy = st.lists(
    st.builds(
        Chain,
        number=st.just(0),
        start_offset=st.integers(0, 40),
        gaps=st.lists(st.integers(1, MAX_GAP), max_size=2).map(tuple),
        known=st.booleans(),
    ),
    min_size=1,
    max_size=4,
)


@settings(
    max_examples=4,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    rhythm=st.sampled_from(["weekly", "monthly", "quarterly"]),
    lags=st.lists(st.integers(0, 10), min_size=1, max_size=8),
    chains=chains_strategy,
)
@example(  # the case: quarterly, a payment order six weeks after the notice
    rhythm="quarterly", lags=[0], chains=[Chain(0, 89, (42,), known=True), Chain(0, 5, ())]
)
def test_chains_at_any_rhythm_stay_one_episode_each(
    rhythm: str, lags: list[int], chains: list[Chain]
) -> None:
    chains = [Chain(i + 1, c.start_offset, c.gaps, c.known) for i, c in enumerate(chains)]
    with tempfile.TemporaryDirectory() as folder:
        _replay(Path(folder), rhythm, lags, chains)


def _replay(tmp: Path, rhythm: str, lags: list[int], chains: list[Chain]) -> None:
    from settings_helpers import build_settings

    from flows.stages.booking import book_appointments
    from flows.stages.cases import import_register
    from flows.stages.letters import create_letters
    from flows.stages.matching import match_episodes
    from flows.stages.outcomes import apply_outcome_rules, create_follow_up_tasks
    from models.db import engine_scope, session_scope, upgrade
    from services.ingest import ingest_file

    settings = build_settings(tmp, f"sqlite:///{tmp / 'test.db'}")
    settings.outcomes.follow_up_days = FOLLOW_UP_DAYS
    with engine_scope(settings.database.url) as engine:
        upgrade(engine)
        register = tmp / "cases.csv"
        register.write_text(
            "case_id;personnummer;name;street_address;apartment;postal_code;unit;"
            "caseworker_id;caseworker_name;caseworker_email;language\n"
            "C1;194001019273;Ingen Alls;Annanväg 1;1001;12345;Ekonomiskt bistånd;"
            "hs1;Helena;hs1@exempelby.se;sv\n"
            + "".join(
                f"C{c.number + 1};{_person(c.ref)[0]};Hyresgäst {c.ref};{_person(c.ref)[1]};"
                "1001;12345;Ekonomiskt bistånd;hs1;Helena;hs1@exempelby.se;sv\n"
                for c in chains
                if c.known
            ),
            encoding="utf-8",
        )
        import_register(engine, settings, register, None, taken_on=HISTORY_START)

        ends = _period_ends(rhythm, HISTORY_START, date(2027, 6, 30))
        first_chain_day = ends[1] + timedelta(days=1)  # two periods delivered before
        events = [
            (chain.ref, kind, day)
            for chain in chains
            for kind, day in chain.events(first_chain_day)
        ]
        last_event = max(day for _, _, day in events)
        deliveries: list[tuple[date, list[dict[str, str]]]] = []
        previous_end = HISTORY_START - timedelta(days=1)
        for index, end in enumerate(ends):
            received = end + timedelta(days=1 + lags[index % len(lags)])
            rows = [_row(ref, kind, day) for ref, kind, day in events if previous_end < day <= end]
            # Every file also carries another tenancy's settled debt, dated at the period's
            # end: files arrive every period, as real ones do.
            rows.append(_row(f"BAKGRUND{index}", "settled", end))
            deliveries.append((received, rows))
            previous_end = end
            period = {"weekly": 7, "monthly": 31, "quarterly": 92}[rhythm]
            if end > last_event + timedelta(days=FOLLOW_UP_DAYS + 2 * period + 25):
                break

        for number, (received, rows) in enumerate(deliveries):
            apply_outcome_rules(engine, settings, received - timedelta(days=1))
            path = tmp / f"fil{number}.csv"
            path.write_text(notice_csv(rows), encoding="utf-8")
            receipt = ingest_file(
                engine, settings, path, "vasbyhem", received_on=received, move=False
            )
            assert receipt.accepted == len(rows), receipt
            for stage in (
                match_episodes,
                apply_outcome_rules,
                create_follow_up_tasks,
                book_appointments,
                create_letters,
            ):
                stage(engine, settings, received)
            _record_past_meetings(engine, received)
        final = deliveries[-1][0]
        apply_outcome_rules(engine, settings, final)

        with session_scope(engine) as session:
            _check(session, chains, final)


def _person(ref: str) -> tuple[str, str]:
    """The tenant's personnummer (valid) and street address, made from the reference."""
    from domain.identity import check_digit

    number = sum(ord(c) for c in ref) % 89 + 10
    first9 = f"{number:02d}0101{sum(map(ord, ref)) % 900 + 100:03d}"
    return f"19{first9}{check_digit(first9)}", f"Storgatan {number}"


def _row(ref: str, kind: str, day: date) -> dict[str, str]:
    pnr, street = _person(ref)
    debt = "" if kind == "settled" else "12000"
    eviction = (
        f"{(day + timedelta(days=30)).isoformat()} 09:00" if kind == "eviction_scheduled" else ""
    )
    return notice(
        personnummer=pnr,
        tenant_name=f"Hyresgäst {ref}",
        street_address=street,
        apartment="1001",
        postal_code="12345",
        town="Exempelby",
        contract_ref=ref,
        event_type=kind,
        event_date=day.isoformat(),
        debt_amount=debt,
        eviction_at=eviction,
    )


def _record_past_meetings(engine, day: date) -> None:  # noqa: ANN001
    """The advisor records every passed meeting as attended (on the meeting's day)."""
    from domain.formatting import STOCKHOLM
    from domain.outcomes import ActivityKind
    from flows.stages.outcomes import record_activity
    from models.db import session_scope
    from models.tables import Appointment, AppointmentSlot

    start = datetime.combine(day, datetime.min.time(), tzinfo=STOCKHOLM).astimezone(UTC)
    with session_scope(engine) as session:
        passed = session.execute(
            select(Appointment.episode_id, AppointmentSlot.starts_at)
            .join(AppointmentSlot, AppointmentSlot.id == Appointment.slot_id)
            .where(Appointment.status == "booked", AppointmentSlot.starts_at < start)
        ).all()
    for episode_id, starts_at in passed:
        moment = starts_at if starts_at.tzinfo else starts_at.replace(tzinfo=UTC)
        on = moment.astimezone(STOCKHOLM).date()
        record_activity(engine, episode_id, ActivityKind.ATTENDED, by="test", on_date=on)


def _check(session, chains: list[Chain], final: date) -> None:  # noqa: ANN001
    from models.tables import Episode, EpisodeTransition, Letter

    for chain in chains:
        episodes = session.execute(
            select(
                Episode.id, Episode.is_recurrence, Episode.status, Episode.outcome_certainty
            ).where(Episode.contract_ref == chain.ref)
        ).all()
        assert len(episodes) == 1, (chain, episodes)
        episode_id, recurrence, status, certainty = episodes[0]
        assert not recurrence
        letters = session.scalar(
            select(func.count())
            .select_from(Letter)
            .where(Letter.episode_id == episode_id, Letter.kind == "appointment")
        )
        assert letters == (0 if chain.known else 1), (chain, letters)
        withdrawn = session.scalar(
            select(func.count())
            .select_from(EpisodeTransition)
            .where(
                EpisodeTransition.episode_id == episode_id,
                EpisodeTransition.from_status == "closed",
            )
        )
        assert withdrawn == 0, (chain, "a closure for silence was withdrawn")
        if len(chain.gaps) == 0:
            # Went quiet after the termination notice: settled, presumed, by the end.
            assert (status, certainty) == ("closed", "presumed"), (chain, status, final)
