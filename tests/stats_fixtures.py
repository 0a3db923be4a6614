"""Test data for the statistics: the Upplands Väsby housing advisor's year 2006.

Published figures (domain page): 407 tenants reached a payment order (BF); 76 of them
were already known to social services (IFO) and went to their caseworker; the others
got a letter with a visiting time and about 80 came (some were rebooked, a few of
those cancelled: the counts are of tenants, not letters or bookings); 244 (60 %)
settled without social services being involved; 10 evictions in 2006 against 16 in 2005. Built with
the ORM only, so the tests do not depend on the ingest or matching stages.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy.orm import Session

from models.tables import (
    Activity,
    Appointment,
    AppointmentSlot,
    Episode,
    HousingCompany,
    Letter,
    Notice,
    NoticeFile,
)

PAYMENT_ORDERS_2006 = 407
KNOWN_2006 = 76
LETTERS_2006 = PAYMENT_ORDERS_2006 - KNOWN_2006  # 331: everyone not known gets a letter
ATTENDED_2006 = 80
MISSED_2006 = 40
SETTLED_WITHOUT_INTERVENTION_2006 = 244
SWI_CONFIRMED_2006 = 200
SETTLED_WITH_SUPPORT_2006 = 60
EVICTED_2006 = 10
EVICTED_WITH_CHILDREN_2006 = 3
EVICTED_2005 = 16
EVICTED_WITH_CHILDREN_2005 = 5
RECURRENCES_2006 = 15
REBOOKED_2006 = 6  # tenants whose time was moved (a second letter version)
CANCELLED_2006 = 2  # of those, the new time was cancelled as well (a cancellation letter)
INHABITANTS = 38_000
CHILDREN = 9_000


class _Builder:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.notice_no = 0
        self.slot_no = 0
        self.letter_no = 0
        session.add(HousingCompany(id="vasbyhem", name="Väsbyhem AB", landlord_type="municipal"))
        session.add(
            HousingCompany(id="privat", name="Privat Hyresvärd AB", landlord_type="private")
        )
        session.flush()
        self.file = NoticeFile(
            company_id="vasbyhem", filename="fixture.csv", content_hash="f" * 64, status="ingested"
        )
        session.add(self.file)
        session.flush()

    def episode(self, opened: date, **fields: object) -> Episode:
        ep = Episode(
            company_id=fields.pop("company_id", "vasbyhem"),
            tenancy_key=f"t{self.notice_no}",
            status=fields.pop("status", "closed"),
            opened_on=opened,
            first_notice_date=opened,
            **fields,
        )
        self.session.add(ep)
        self.session.flush()
        return ep

    def notice(self, ep: Episode, event_type: str, on: date) -> None:
        self.notice_no += 1
        self.session.add(
            Notice(
                natural_key=f"n{self.notice_no}",
                file_id=self.file.id,
                row_number=self.notice_no,
                company_id=ep.company_id,
                episode_id=ep.id,
                event_type=event_type,
                event_date=on,
            )
        )

    def letter(self, ep: Episode, sent: datetime, channel: str, kind: str = "appointment") -> None:
        self.letter_no += 1
        self.session.add(
            Letter(
                idempotency_key=f"letter-{self.letter_no}",
                episode_id=ep.id,
                kind=kind,
                channel=channel,
                status="sent",
                created_on=sent.date(),
                sent_at=sent,
            )
        )

    def appointment(
        self, ep: Episode, booked: datetime, starts: datetime, status: str
    ) -> Appointment:
        self.slot_no += 1
        slot = AppointmentSlot(
            advisor_id="radgivare1",
            location="Boenderådgivningen",
            starts_at=starts + timedelta(minutes=self.slot_no),
            ends_at=starts + timedelta(minutes=self.slot_no + 45),
            booked=1,
        )
        self.session.add(slot)
        self.session.flush()
        appointment = Appointment(
            episode_id=ep.id,
            slot_id=slot.id,
            status=status,
            before_deadline=True,
            booked_at=booked,
        )
        self.session.add(appointment)
        self.session.flush()
        return appointment


def _at(day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour, 0), tzinfo=UTC)


def build_vasby(session: Session) -> None:
    """Write the 2005 evictions and the 2006 year to the database (one transaction)."""
    b = _Builder(session)

    # 2005: sixteen evictions (the year before the model started).
    for i in range(EVICTED_2005):
        opened = date(2005, 1 + i % 10, 3)
        ep = b.episode(
            opened,
            has_children=i < EVICTED_WITH_CHILDREN_2005,
            routing="advisor",
            outcome="evicted",
            outcome_certainty="confirmed",
            outcome_date=opened + timedelta(days=60),
            reached_payment_order=True,
        )
        b.notice(ep, "termination_notice", opened)
        b.notice(ep, "payment_order", opened + timedelta(days=10))
        b.notice(ep, "eviction_scheduled", opened + timedelta(days=40))
        b.notice(ep, "eviction_executed", opened + timedelta(days=60))

    # 2006: 407 episodes reaching a payment order.
    advisor_no = 0
    rebooked = 0
    evicted_known = 0
    evicted_other = 0
    for i in range(PAYMENT_ORDERS_2006):
        month = 1 + i % 12
        opened = date(2006, month, 1 + i % 15)
        payment_order = opened + timedelta(days=10)
        known = i < KNOWN_2006
        fields: dict[str, object] = {
            "routing": "caseworker" if known else "advisor",
            "reached_payment_order": True,
            "has_children": i % 5 == 0,
            "is_recurrence": i >= PAYMENT_ORDERS_2006 - RECURRENCES_2006,
            "matched_at": _at(opened + timedelta(days=1)) if known else None,
            "company_id": "privat" if i % 7 == 0 else "vasbyhem",
        }
        evict = month <= 10 and (
            (known and evicted_known < 4) or (not known and i % 9 == 0 and evicted_other < 6)
        )
        ep_outcome: tuple[str, str] | None = None
        attended = missed = False
        if not known:
            advisor_no += 1
            attended = advisor_no <= ATTENDED_2006
            missed = ATTENDED_2006 < advisor_no <= ATTENDED_2006 + MISSED_2006
        if evict:
            if known:
                evicted_known += 1
            else:
                evicted_other += 1
            ep_outcome = ("evicted", "confirmed")
        ep = b.episode(opened, **fields)
        b.notice(ep, "termination_notice", opened)
        b.notice(ep, "payment_order", payment_order)
        if not known:
            b.letter(ep, _at(opened + timedelta(days=2)), "email" if i % 2 else "print")
            status = "attended" if attended else "no_show" if missed else "booked"
            first = b.appointment(
                ep, _at(opened + timedelta(days=1)), _at(opened + timedelta(days=14), 9), status
            )  # noqa: E501
            if status == "booked" and rebooked < REBOOKED_2006:
                # Moved to a later time (a second letter version), and for some of them
                # that time was cancelled too: still one tenant, one booking.
                rebooked += 1
                first.status = "cancelled"
                later = opened + timedelta(days=5)
                again = b.appointment(ep, _at(later), _at(later + timedelta(days=14), 9), "booked")
                b.letter(ep, _at(later), "print")
                if rebooked <= CANCELLED_2006:
                    again.status = "cancelled"
                    b.letter(ep, _at(later + timedelta(days=1)), "print", "appointment_cancelled")
        if evict:
            b.notice(ep, "eviction_scheduled", payment_order + timedelta(days=20))
            b.notice(ep, "eviction_executed", payment_order + timedelta(days=40))
            ep.outcome_date = payment_order + timedelta(days=40)
        ep.outcome, ep.outcome_certainty = ep_outcome or (None, None)
        if attended:
            session.add(
                Activity(
                    episode_id=ep.id,
                    kind="attended",
                    on_date=opened + timedelta(days=14),
                    by="fixture",
                )
            )  # noqa: E501
        session.flush()
    assert evicted_known == 4 and evicted_other == 6, (evicted_known, evicted_other)

    # Outcomes of the others, in a fixed order.
    from sqlalchemy import select

    rest = session.scalars(
        select(Episode)
        .where(Episode.opened_on >= date(2006, 1, 1), Episode.outcome.is_(None))
        .order_by(Episode.id)
    ).all()
    attended_ids = set(
        session.scalars(select(Appointment.episode_id).where(Appointment.status == "attended"))
    )
    quiet = [e for e in rest if e.id not in attended_ids and e.routing == "advisor"]
    helped = [e for e in rest if e.id in attended_ids]
    # Mark evictions with children: three of the ten evicted 2006 episodes.
    evicted = session.scalars(
        select(Episode)
        .where(Episode.opened_on >= date(2006, 1, 1), Episode.outcome == "evicted")
        .order_by(Episode.id)
    ).all()
    for ep in evicted:
        ep.has_children = False
    for ep in evicted[:EVICTED_WITH_CHILDREN_2006]:
        ep.has_children = True
    for n, ep in enumerate(quiet[:SETTLED_WITHOUT_INTERVENTION_2006]):
        ep.outcome = "settled_without_intervention"
        ep.outcome_certainty = "confirmed" if n < SWI_CONFIRMED_2006 else "presumed"
        ep.outcome_date = ep.opened_on + timedelta(days=15)
    for ep in helped[:SETTLED_WITH_SUPPORT_2006]:
        ep.outcome = "settled_with_support"
        ep.outcome_certainty = "confirmed"
        ep.outcome_date = ep.opened_on + timedelta(days=15)
    session.flush()
