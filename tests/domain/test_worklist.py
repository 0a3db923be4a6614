"""The worklist's sections and their order (pure functions over frames)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import polars as pl

from domain.worklist import (
    APPOINTMENTS_SCHEMA,
    EPISODES_SCHEMA,
    LETTERS_SCHEMA,
    MATCHES_SCHEMA,
    SECTION_ORDER,
    TASKS_SCHEMA,
    Section,
    WorklistInputs,
    build_sections,
    section_counts,
    split_sections,
)
from web.advisor_view import web_action

SE = ZoneInfo("Europe/Stockholm")
RUN = date(2026, 11, 20)  # a Friday: the next working day is Monday 23 November


def ep(episode_id: int, **values: object) -> dict[str, object]:
    row: dict[str, object] = {
        "episode_id": episode_id,
        "tenant_name": f"Hyresgäst {episode_id}",
        "street_address": "Storgatan 1",
        "apartment": "1001",
        "postal_code": "123 45",
        "town": "Exempelby",
        "deadline_date": date(2026, 12, 1),
        "debt_amount": 10_000.0,
        "has_children": False,
        "status": "payment_order",
        "outcome": None,
        "routing": "advisor",
        "caseworker_id": None,
        "caseworker_name": None,
        "opened_on": date(2026, 10, 1),
        "eviction_at": None,
        "follow_up_date": date(2027, 1, 1),
        "last_event_date": date(2026, 10, 1),
    }
    row.update(values)
    return row


def at(day: int, hour: int, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, 0, tzinfo=SE)


def inputs(
    episodes: list[dict],
    appointments: list[dict] | None = None,
    tasks: list[dict] | None = None,
    matches: list[dict] | None = None,
    letters: list[dict] | None = None,
) -> WorklistInputs:
    return WorklistInputs(
        episodes=pl.DataFrame(episodes, schema=EPISODES_SCHEMA),
        appointments=pl.DataFrame(appointments or [], schema=APPOINTMENTS_SCHEMA),
        open_tasks=pl.DataFrame(tasks or [], schema=TASKS_SCHEMA),
        pending_matches=pl.DataFrame(matches or [], schema=MATCHES_SCHEMA),
        tenant_letters=pl.DataFrame(letters or [], schema=LETTERS_SCHEMA),
    )


def appt(appointment_id: int, episode_id: int, starts_at: datetime, **values: object) -> dict:
    row = {
        "appointment_id": appointment_id,
        "episode_id": episode_id,
        "status": "booked",
        "before_deadline": True,
        "starts_at": starts_at,
        "location": "Medborgarhuset",
        "advisor_id": "radgivare1",
    }
    row.update(values)
    return row


def build(data: WorklistInputs, previous: date | None = date(2026, 11, 19)) -> pl.DataFrame:
    return build_sections(data, RUN, horizon_days=14, previous_run_date=previous)


def ids(rows: pl.DataFrame, section: Section) -> list[int]:
    return rows.filter(pl.col("section") == section.value)["episode_id"].to_list()


def test_every_section_in_the_issues_order() -> None:
    data = inputs(
        [
            ep(1, eviction_at=at(30, 9), status="eviction_scheduled"),
            ep(2),
            ep(3),
            ep(4, opened_on=RUN),
            ep(5, routing="review"),
            ep(6),
            ep(7, follow_up_date=date(2026, 11, 1)),
            ep(8, routing="review", deadline_date=date(2026, 11, 27)),
        ],
        appointments=[appt(1, 2, at(20, 13))],
        tasks=[{"episode_id": 3, "kind": "phone_call", "round": 1, "due_date": RUN}],
        matches=[
            {"match_id": 9, "episode_id": 5, "tier": "possible", "score": 0.6},
            {"match_id": 10, "episode_id": 8, "tier": "possible", "score": 0.6},
        ],
        letters=[{"letter_id": 4, "episode_id": 6, "status": "failed", "flagged": False}],
    )
    rows = build_sections(
        data, RUN, horizon_days=14, previous_run_date=date(2026, 11, 19), review_urgent_days=10
    )
    assert rows["section"].to_list() == [s.value for s in SECTION_ORDER]
    assert rows["episode_id"].to_list() == [8, 1, 2, 3, 4, 5, 6, 7]
    assert rows.filter(pl.col("action").is_null() | (pl.col("action") == "")).is_empty()
    counts = section_counts(rows)
    assert list(counts) == [s.value for s in SECTION_ORDER] and set(counts.values()) == {1}
    assert [s for s, _ in split_sections(rows)] == list(SECTION_ORDER)


def test_evictions_children_first_then_soonest_and_only_within_the_horizon() -> None:
    data = inputs(
        [
            ep(1, eviction_at=at(25, 9), status="eviction_scheduled"),
            ep(2, eviction_at=at(3, 9, month=12), status="eviction_scheduled", has_children=True),
            ep(3, eviction_at=at(24, 9), status="eviction_scheduled"),
            ep(4, eviction_at=at(5, 9, month=12), status="eviction_scheduled"),  # 15 days: later
            ep(5, eviction_at=at(19, 9), status="eviction_scheduled"),  # yesterday
            ep(6, eviction_at=at(24, 10), status="eviction_executed"),  # no longer open
            ep(7, eviction_at=at(20, 8), status="eviction_scheduled", has_children=True),
        ]
    )
    rows = build(data)
    assert ids(rows, Section.EVICTIONS) == [7, 2, 3, 1]
    first = rows.row(0, named=True)
    assert first["has_children"] is True
    assert "fredag 20 november kl. 08.00" in first["action"]


def test_eviction_of_a_caseworker_episode_asks_to_check_the_hand_over() -> None:
    data = inputs(
        [
            ep(
                1,
                eviction_at=at(24, 9),
                status="eviction_scheduled",
                routing="caseworker",
                caseworker_id="hl1",
                caseworker_name="Karin",
            )
        ]  # fmt: skip
    )
    assert "handläggaren (Karin)" in build(data)["action"][0]


def test_appointments_today_and_the_next_working_day_in_time_order() -> None:
    data = inputs(
        [ep(1), ep(2), ep(3), ep(4), ep(5)],
        appointments=[
            appt(1, 1, at(23, 9)),  # Monday: next working day
            appt(2, 2, at(20, 13)),
            appt(3, 3, at(20, 9)),
            appt(4, 4, at(21, 9)),  # Saturday: nothing the advisor holds
            appt(5, 5, at(24, 9)),  # Tuesday: not yet
            appt(6, 1, at(20, 10), status="cancelled"),
        ],
    )
    rows = build(data)
    assert ids(rows, Section.APPOINTMENTS) == [3, 2, 1]
    actions = rows.filter(pl.col("section") == "appointments")["action"].to_list()
    assert actions[0].startswith("Möte i dag kl. 09.00, Medborgarhuset")
    assert actions[2].startswith("Möte måndag 23 november kl. 09.00")


def test_no_show_tasks_by_due_date_children_first_on_the_same_day() -> None:
    data = inputs(
        [ep(1), ep(2, has_children=True), ep(3)],
        tasks=[
            {"episode_id": 1, "kind": "phone_call", "round": 1, "due_date": date(2026, 11, 18)},
            {"episode_id": 3, "kind": "phone_call", "round": 1, "due_date": date(2026, 11, 19)},
            {"episode_id": 2, "kind": "home_visit", "round": 1, "due_date": date(2026, 11, 19)},
        ],
    )
    rows = build(data).filter(pl.col("section") == "no_show_tasks")
    assert rows["episode_id"].to_list() == [1, 2, 3]
    assert rows["action"][1].startswith("Gör hembesök senast 19 november")
    assert rows["action"][0].startswith("Ring hushållet senast 18 november")


def test_new_episodes_since_the_last_worklist_with_their_routing() -> None:
    data = inputs(
        [
            ep(1, opened_on=date(2026, 11, 19)),  # on the last list already
            ep(
                2,
                opened_on=RUN,
                routing="caseworker",
                caseworker_id="hl1",
                caseworker_name="Karin Handläggare",
            ),
            ep(3, opened_on=RUN),
            ep(4, opened_on=RUN, routing=None, has_children=True),
            ep(5, opened_on=date(2026, 11, 21)),  # after the run date
        ],  # fmt: skip
        appointments=[appt(1, 3, at(26, 9))],
    )
    rows = build(data).filter(pl.col("section") == "new_episodes")
    assert rows["episode_id"].to_list() == [4, 2, 3]
    assert rows["action"].to_list() == [
        "Ännu inte matchat mot registret",
        "Känt ärende: överlämnat till handläggare Karin Handläggare",
        "Kallelse till möte torsdag 26 november kl. 09.00",
    ]
    first_ever = build(data, previous=None).filter(pl.col("section") == "new_episodes")
    assert sorted(first_ever["episode_id"].to_list()) == [1, 2, 3, 4]


def test_a_new_episode_whose_meeting_took_place_says_so() -> None:
    """Booked and held within the week: not "no time booked yet"."""
    data = inputs(
        [ep(1, opened_on=RUN), ep(2, opened_on=RUN)],
        appointments=[
            appt(1, 1, at(19, 9), status="attended"),
            appt(2, 2, at(19, 10), status="no_show"),
        ],
    )
    rows = build(data).filter(pl.col("section") == "new_episodes").sort("episode_id")
    assert rows["action"].to_list() == [
        "Kom till mötet torsdag 19 november kl. 09.00",
        "Uteblev från mötet torsdag 19 november kl. 10.00",
    ]


def test_a_name_still_garbled_after_repair_is_flagged_for_the_advisor() -> None:
    """Mojibake ingest could not repair went onto the letter: the advisor is told to check."""
    data = inputs(
        [
            ep(1, opened_on=RUN, tenant_name="Ã\x85sa Ã–berg"),  # not repairable as it stands
            ep(2, opened_on=RUN, tenant_name="Åsa Öberg"),
        ],
        appointments=[appt(1, 1, at(26, 9)), appt(2, 2, at(26, 10))],
    )
    rows = build(data).filter(pl.col("section") == "new_episodes").sort("episode_id")
    flagged, clean = rows["action"].to_list()
    assert flagged.startswith("Kallelse till möte") and "Kontrollera namn och adress" in flagged
    assert "Kontrollera" not in clean


def test_matches_delivery_problems_and_follow_up() -> None:
    data = inputs(
        [
            ep(1),
            ep(2, has_children=True),
            ep(3),
            ep(4, follow_up_date=RUN, eviction_at=at(10, 9), status="eviction_scheduled"),
            ep(5, follow_up_date=date(2026, 11, 2), last_event_date=date(2026, 10, 3)),
            ep(6, follow_up_date=date(2026, 11, 2), status="closed"),
        ],
        appointments=[appt(1, 3, at(30, 9), before_deadline=False)],
        matches=[
            {"match_id": 10, "episode_id": 1, "tier": "probable", "score": 0.9},
            {"match_id": 11, "episode_id": 2, "tier": "possible", "score": 0.5},
        ],
        letters=[
            {"letter_id": 3, "episode_id": 1, "status": "returned", "flagged": False},
            {"letter_id": 5, "episode_id": 2, "status": "failed", "flagged": False},
            {"letter_id": 6, "episode_id": 2, "status": "sent", "flagged": False},  # resent
            {"letter_id": 7, "episode_id": 4, "status": "sent", "flagged": True},
        ],
    )
    rows = build(data)
    assert ids(rows, Section.MATCHES_TO_CONFIRM) == [2, 1]
    assert (
        "träff 11 (möjlig) på ärendesidan"
        in rows.filter(pl.col("section") == "matches_to_confirm")["action"][0]
    )
    assert ids(rows, Section.DELIVERY_PROBLEMS) == [1, 4, 3]
    problems = rows.filter(pl.col("section") == "delivery_problems")["action"].to_list()
    assert problems[0].startswith("Brevet kom tillbaka")
    assert problems[1].startswith("Mejlet studsade, brevet går med posten")
    assert "efter sista dagen att betala" in problems[2]
    assert ids(rows, Section.PAST_FOLLOW_UP) == [5, 4]
    follow = rows.filter(pl.col("section") == "past_follow_up")["action"].to_list()
    assert follow[0].startswith("Inget nytt sedan 3 oktober")
    assert follow[1].startswith("Avhysningsdagen 10 november har passerat")


def test_address_leaves_out_unknown_parts() -> None:
    data = inputs(
        [
            ep(1, opened_on=RUN),
            ep(2, opened_on=RUN, apartment=None, postal_code=None),
            ep(3, opened_on=RUN, street_address=None, apartment=None, postal_code=None, town=None),
        ]
    )
    rows = build(data).sort("episode_id")
    assert rows["address"].to_list() == [
        "Storgatan 1, lgh 1001, 123 45 Exempelby",
        "Storgatan 1, Exempelby",
        None,
    ]


def test_caseworker_lists_leave_out_matches() -> None:
    data = inputs(
        [ep(1)], matches=[{"match_id": 1, "episode_id": 1, "tier": "possible", "score": 0.5}]
    )
    rows = build_sections(data, RUN, horizon_days=14, previous_run_date=RUN, include_matches=False)
    assert rows.is_empty()


def test_children_unknown_stay_unknown_and_come_between_yes_and_no() -> None:
    scheduled = {"status": "eviction_scheduled"}
    data = inputs(
        [
            ep(1, eviction_at=at(23, 9), **scheduled),  # no children (known)
            ep(2, eviction_at=at(24, 9), has_children=None, **scheduled),  # nobody knows
            ep(3, eviction_at=at(25, 9), has_children=True, **scheduled),
        ]
    )
    rows = build(data)
    assert ids(rows, Section.EVICTIONS) == [3, 2, 1]
    assert rows["has_children"].to_list() == [True, None, False]


def test_meetings_of_closed_and_settled_episodes_stay_with_their_status() -> None:
    data = inputs(
        [
            ep(1, status="closed", outcome="settled_without_intervention"),
            ep(2, status="settled"),
            ep(3),
        ],
        appointments=[
            appt(1, 1, at(20, 9)),
            appt(2, 2, at(20, 10)),
            appt(3, 3, at(23, 9)),
            appt(4, 3, at(20, 11), status="cancelled"),
        ],
    )
    rows = build(data).filter(pl.col("section") == "appointments")
    assert rows["episode_id"].to_list() == [1, 2, 3]
    actions = rows["action"].to_list()
    assert actions[0] == (
        "Möte i dag kl. 09.00, Medborgarhuset: ta emot hushållet och registrera besöket "
        "(Ärendet avslutat: reglerad utan insats)"
    )
    assert actions[1].endswith("(Ärendet avslutat: reglerad)")
    assert "avslutat" not in actions[2]


def test_a_closed_episode_is_no_delivery_problem() -> None:
    data = inputs(
        [ep(1, status="closed", outcome="moved_out"), ep(2, status="settled"), ep(3)],
        appointments=[appt(1, 1, at(30, 9), before_deadline=False)],
        letters=[
            {"letter_id": 1, "episode_id": 2, "status": "failed", "flagged": False},
            {"letter_id": 2, "episode_id": 3, "status": "failed", "flagged": False},
        ],
    )
    assert ids(build(data), Section.DELIVERY_PROBLEMS) == [3]


def test_a_caseworkers_own_list_is_addressed_to_them() -> None:
    routed = {"routing": "caseworker", "caseworker_id": "hl1", "caseworker_name": "Jonas Nord"}
    data = inputs(
        [
            ep(1, eviction_at=at(24, 9), status="eviction_scheduled", **routed),
            ep(2, opened_on=RUN, **routed),
        ]
    )
    own = build_sections(
        data, RUN, horizon_days=14, previous_run_date=date(2026, 11, 19),
        include_matches=False, caseworker_view=True,
    )  # fmt: skip
    actions = own["action"].to_list()
    assert actions == [
        "Avhysning tisdag 24 november kl. 09.00: kontakta hushållet och hyresvärden i dag",
        "Nytt ärende hos dig (känt hos socialtjänsten): kontakta hushållet om skulden",
    ]
    assert not [a for a in actions if "Jonas Nord" in a or "handläggare" in a]
    advisors = build(data)["action"].to_list()  # the advisor's list still names them
    assert "kontrollera att handläggaren (Jonas Nord)" in advisors[0]
    assert advisors[1] == "Känt ärende: överlämnat till handläggare Jonas Nord"


def test_overdue_tasks_say_so() -> None:
    data = inputs(
        [ep(1), ep(2, has_children=True), ep(3)],
        tasks=[
            {"episode_id": 1, "kind": "phone_call", "round": 1, "due_date": date(2026, 10, 30)},
            {"episode_id": 2, "kind": "home_visit", "round": 1, "due_date": date(2026, 11, 19)},
            {"episode_id": 3, "kind": "phone_call", "round": 1, "due_date": RUN},  # today: not yet
        ],
    )
    actions = build(data).filter(pl.col("section") == "no_show_tasks")["action"].to_list()
    assert actions == [
        "Ring hushållet senast 30 oktober – försenad (uteblev från mötet)",
        "Gör hembesök senast 19 november – försenad "
        "(barnfamilj som uteblev och inte nåtts per telefon)",
        "Ring hushållet senast 20 november (uteblev från mötet)",
    ]


def test_calls_and_meetings_of_households_nobody_asked_ask_about_children() -> None:
    data = inputs(
        [ep(1, has_children=None), ep(2, has_children=None)],
        appointments=[appt(1, 2, at(20, 9))],
        tasks=[{"episode_id": 1, "kind": "phone_call", "round": 1, "due_date": RUN}],
    )
    rows = build(data)
    ask = "fråga om barn bor där och registrera svaret (antal barn på ärendesidan {})"
    meeting = rows.filter(pl.col("section") == "appointments")["action"][0]
    call = rows.filter(pl.col("section") == "no_show_tasks")["action"][0]
    assert ask.format(2) in meeting and ask.format(1) in call
    known = build(inputs([ep(1)], tasks=[{"episode_id": 1, "kind": "phone_call", "round": 1,
                                          "due_date": RUN}]))  # fmt: skip
    assert "barn" not in known["action"][0]


def test_postcodes_are_written_as_on_letters() -> None:
    data = inputs(
        [
            ep(1, opened_on=RUN, postal_code="19453"),
            ep(2, opened_on=RUN, postal_code="194 53"),
            ep(3, opened_on=RUN, postal_code="SE-194"),  # not a Swedish postcode: as given
        ]
    )
    rows = build(data).sort("episode_id")
    assert rows["address"].to_list() == [
        "Storgatan 1, lgh 1001, 194 53 Exempelby",
        "Storgatan 1, lgh 1001, 194 53 Exempelby",
        "Storgatan 1, lgh 1001, SE-194 Exempelby",
    ]


def test_an_estimated_deadline_reads_ca_in_every_format() -> None:
    """No service date known: the advisor sees the date as our estimate, not the law's."""
    from letters.worklist import Worklist, csv_text, display_rows

    data = inputs(
        [
            ep(1, opened_on=RUN, deadline_estimated=True),
            ep(2, opened_on=RUN, deadline_estimated=False),
            ep(3, opened_on=RUN, deadline_date=None),
        ]
    )
    rows = build(data).filter(pl.col("section") == Section.NEW_EPISODES)
    shown = {row[1]: row[4] for row in display_rows(rows)}
    assert shown == {"1": "ca 2026-12-01", "2": "2026-12-01", "3": "–"}
    text = csv_text(Worklist("advisor", "radgivare1", "Anna", RUN, rows))
    assert text.splitlines()[0].split(";")[4] == "Betala senast"
    assert ";ca 2026-12-01;" in text and "deadline_estimated" not in text


# --- issue 12: reviews near the deadline, meetings and the eviction, short notice ---------


def test_a_pending_review_moves_to_the_top_as_its_deadline_approaches() -> None:
    data = inputs(
        [
            ep(1, routing="review", deadline_date=date(2026, 12, 21)),  # a month away
            ep(2, routing="review", deadline_date=date(2026, 11, 30)),  # 10 days
            ep(3, routing="review", deadline_date=date(2026, 11, 24)),  # booked already
        ],
        appointments=[appt(1, 3, at(23, 9))],
        matches=[
            {"match_id": m, "episode_id": m, "tier": "possible", "score": 0.6} for m in (1, 2, 3)
        ],
    )
    rows = build_sections(
        data,
        RUN,
        horizon_days=14,
        previous_run_date=RUN,
        review_urgent_days=10,
        review_book_working_days=5,
    )
    assert ids(rows, Section.URGENT_REVIEWS) == [3, 2]
    assert ids(rows, Section.MATCHES_TO_CONFIRM) == [1]
    urgent = rows.filter(pl.col("section") == Section.URGENT_REVIEWS.value)["action"].to_list()
    assert urgent[0].startswith("Sista dagen att betala är 24 november: bekräfta eller avvisa")
    assert "redan kallat till möte måndag 23 november kl. 09.00" in urgent[0]
    # 30 November less five working days: the household is booked on Monday 23rd.
    assert "annars kallas hushållet måndag 23 november som okänt" in urgent[1]
    web = web_action(Section.URGENT_REVIEWS.value, urgent[1], 2)
    assert web.buttons[0].code == "traff"


def test_meetings_that_cannot_help_before_the_eviction_are_flagged() -> None:
    data = inputs(
        [
            ep(1, status="eviction_scheduled", eviction_at=at(30, 9)),  # never booked
            ep(2, status="eviction_scheduled", eviction_at=at(30, 9)),  # booked too close
            ep(3, status="eviction_scheduled", eviction_at=at(30, 9)),  # booked in time
            ep(4, routing="caseworker", status="eviction_scheduled", eviction_at=at(30, 9)),
        ],
        appointments=[appt(1, 2, at(27, 9)), appt(2, 3, at(26, 9))],
    )
    rows = build_sections(data, RUN, horizon_days=14, previous_run_date=RUN, eviction_margin=2)
    problems = rows.filter(pl.col("section") == Section.DELIVERY_PROBLEMS.value)
    assert problems["episode_id"].to_list() == [1, 2]
    first, second = problems["action"].to_list()
    assert first.startswith("Ingen ledig mötestid minst 2 arbetsdagar före avhysningen måndag")
    assert second.startswith("Mötet 27 november ligger för nära avhysningen")
    assert web_action("delivery_problems", second, 2).buttons[0].code == "ny-tid"


def test_a_new_episode_booked_at_short_notice_says_so() -> None:
    data = inputs(
        [ep(1, opened_on=RUN), ep(2, opened_on=RUN)],
        appointments=[appt(1, 1, at(25, 9), short_notice=True), appt(2, 2, at(27, 9))],
    )
    rows = build(data).filter(pl.col("section") == Section.NEW_EPISODES.value)
    actions = dict(zip(rows["episode_id"].to_list(), rows["action"].to_list(), strict=True))
    assert "kort varsel" in actions[1] and "ring och påminn" in actions[1]
    assert "kort varsel" not in actions[2]


def test_every_short_notice_meeting_says_so_the_day_before() -> None:
    """Not only new episodes: a rebooking or a review booked as unknown, opened earlier."""
    data = inputs(
        [ep(1, opened_on=date(2026, 11, 2)), ep(2, opened_on=date(2026, 11, 2))],
        appointments=[appt(1, 1, at(23, 9), short_notice=True), appt(2, 2, at(23, 10))],
    )
    rows = build(data).filter(pl.col("section") == Section.APPOINTMENTS.value)
    actions = dict(zip(rows["episode_id"].to_list(), rows["action"].to_list(), strict=True))
    assert actions[1].startswith("Möte måndag 23 november kl. 09.00")
    assert "kort varsel" in actions[1] and "ring och påminn" in actions[1]
    assert "kort varsel" not in actions[2]


def test_a_late_meeting_offers_an_earlier_time_only_when_one_can_exist() -> None:
    data = inputs(
        [
            # The deadline had passed when the landlord's notice reached us.
            ep(1, deadline_date=date(2026, 11, 10), opened_on=date(2026, 11, 12)),
            # The deadline passed since the booking.
            ep(2, deadline_date=date(2026, 11, 18), opened_on=date(2026, 11, 12)),
            # The deadline lies ahead: an earlier time may still come free.
            ep(3, deadline_date=date(2026, 11, 25), opened_on=date(2026, 11, 12)),
        ],
        appointments=[
            appt(1, 1, at(30, 9), before_deadline=False),
            appt(2, 2, at(30, 10), before_deadline=False),
            appt(3, 3, at(30, 11), before_deadline=False),
        ],
    )
    rows = build(data).filter(pl.col("section") == "delivery_problems").sort("episode_id")
    late, passed, ahead = rows["action"].to_list()
    assert late.startswith("Underrättelsen kom efter sista dagen att betala (10 november)")
    assert "ring hushållet om mötet 30 november" in late and "avbetalningsplan" in late
    assert passed.startswith("Sista dagen att betala (18 november) har passerat")
    assert "tidigare tid" not in late and "tidigare tid" not in passed
    assert ahead.startswith("Mötet 30 november ligger efter sista dagen att betala (25 november)")
    assert "erbjud en tidigare tid" in ahead


def test_a_passed_unrecorded_meeting_asks_came_or_not_until_recorded() -> None:
    data = inputs(
        [ep(1), ep(2), ep(3)],
        appointments=[
            appt(1, 1, at(19, 9)),  # yesterday, nobody recorded it
            appt(2, 2, at(18, 9), status="attended"),
            appt(3, 3, at(20, 13)),  # today
        ],
    )
    rows = build(data).filter(pl.col("section") == "appointments")
    assert rows["episode_id"].to_list() == [3, 1]
    assert rows["action"][1] == (
        "Mötet torsdag 19 november kl. 09.00 har passerat utan registrering: registrera om "
        "hushållet kom eller uteblev (närvaro på ärendesidan 1)"
    )
