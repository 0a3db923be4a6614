"""Episode grouping as pure functions: tenancy keys, segmentation, status by event date."""

from __future__ import annotations

from datetime import date

import polars as pl

from domain.episodes import (
    EpisodePolicy,
    EpisodeState,
    add_months,
    apply_to_existing,
    deadline,
    plan_new_tenancies,
    with_keys,
)

FIELDS = (
    "tenant_name", "co_tenant_name", "co_tenant_personnummer", "street_address", "apartment",
    "postal_code", "town", "email", "phone", "language", "contract_ref",
)  # fmt: skip


def notices(*events: tuple[str | None, str, date], pnr: str = "198001011231") -> pl.DataFrame:
    """Notices as (contract_ref, event_type, event_date)."""
    frame = pl.DataFrame(
        {
            "row_number": list(range(2, 2 + len(events))),
            "contract_ref": [e[0] for e in events],
            "event_type": [e[1] for e in events],
            "event_date": [e[2] for e in events],
        },
        schema={
            "row_number": pl.Int64,
            "contract_ref": pl.String,
            "event_type": pl.String,
            "event_date": pl.Date,
        },
    ).with_columns(
        *[pl.lit(None, dtype=pl.String).alias(f) for f in FIELDS if f != "contract_ref"],
        personnummer=pl.lit(pnr),
        personnummer_valid=pl.lit(True),
        debt_amount=pl.lit(None, dtype=pl.Float64),
        monthly_rent=pl.lit(None, dtype=pl.Float64),
        service_date=pl.lit(None, dtype=pl.Date),
        eviction_at=pl.lit(None, dtype=pl.Datetime("us", "UTC")),
    )
    frame = frame.with_columns(street_address=pl.lit("Storgatan 1"), apartment=pl.lit("1001"))
    keyed = with_keys(frame, "bo")
    return keyed.with_row_index("notice_id").with_columns(pl.col("notice_id").cast(pl.Int64))


def test_tenancy_key_uses_contract_else_hashed_person_and_address() -> None:
    frame = notices(
        ("k 1", "termination_notice", date(2026, 1, 1)), (None, "decision", date(2026, 2, 1))
    )
    keys = frame["tenancy_key"].to_list()
    assert keys[0] == "bo|k|K1"
    assert keys[1].startswith("bo|a|") and "198001011231" not in keys[1]
    assert frame["natural_key"].str.len_chars().to_list() == [64, 64]


def test_same_notice_has_same_natural_key_in_any_file() -> None:
    one = notices(("K1", "termination_notice", date(2026, 1, 1)))
    two = notices(
        ("K1", "termination_notice", date(2026, 1, 1)), ("K1", "decision", date(2026, 2, 1))
    )
    assert one["natural_key"][0] == two["natural_key"][0]
    assert two["natural_key"][0] != two["natural_key"][1]


def test_status_follows_event_date_not_file_order() -> None:
    frame = notices(
        ("K1", "eviction_scheduled", date(2026, 3, 1)),
        ("K1", "termination_notice", date(2026, 1, 1)),
        ("K1", "payment_order", date(2026, 2, 1)),
    )
    plan = plan_new_tenancies(frame, EpisodePolicy(), date(2026, 3, 5))
    episode = plan.episodes.row(0, named=True)
    assert plan.episodes.height == 1
    assert episode["status"] == "eviction_scheduled"
    assert episode["first_notice_date"] == date(2026, 1, 1)
    assert episode["deadline_date"] == date(2026, 1, 29)  # no service date: notice + 28 days
    steps = plan.transitions.select("from_status", "to_status").rows()
    assert steps == [
        (None, "termination_notice"),
        ("termination_notice", "payment_order"),
        ("payment_order", "eviction_scheduled"),
    ]
    assert all("1001" not in r and "Storgatan" not in r for r in plan.transitions["reason"])


def test_new_episode_after_terminal_and_recurrence_window() -> None:
    frame = notices(
        ("K1", "termination_notice", date(2020, 1, 1)),
        ("K1", "settled", date(2020, 2, 1)),
        ("K1", "decision", date(2020, 3, 1)),  # after settlement but not opening: same episode
        ("K1", "payment_order", date(2023, 1, 1)),  # opens a new one, 35 months later
        ("K1", "eviction_executed", date(2023, 5, 1)),
        ("K1", "termination_notice", date(2024, 1, 1)),  # within 24 months: recurrence
    )
    plan = plan_new_tenancies(frame, EpisodePolicy(recurrence_months=24), date(2024, 1, 5))
    rows = (
        plan.episodes.sort("seg_index")
        .select("status", "prev_seg_index", "is_recurrence", "last_event_date")
        .rows()
    )
    assert rows == [
        ("settled", None, False, date(2020, 3, 1)),
        ("eviction_executed", 0, False, date(2023, 5, 1)),
        ("termination_notice", 1, True, date(2024, 1, 1)),
    ]


def test_existing_episode_is_moved_forward_and_late_events_do_not_move_it_back() -> None:
    state = EpisodeState(
        tenancy_key="bo|k|K1",
        status="decision",
        first_notice_date=date(2026, 1, 1),
        last_event_date=date(2026, 3, 1),
        status_date=date(2026, 3, 1),
        values={"_seen": True, "debt_amount": 5000.0},
        id=7,
    )
    frame = notices(
        ("K1", "payment_order", date(2026, 2, 1)),
        ("K1", "settled", date(2026, 3, 10)),
    )
    plan = apply_to_existing(
        {"bo|k|K1": [state]}, frame.to_dicts(), EpisodePolicy(), date(2026, 3, 12), 0
    )
    assert [e.id for e in plan.episodes] == [7]
    assert state.status == "settled" and state.status_date == date(2026, 3, 10)
    assert state.values["reached_payment_order"] is True
    assert [(t["from_status"], t["to_status"]) for t in plan.transitions] == [
        ("decision", "settled")
    ]


def test_deadline_and_months() -> None:
    policy = EpisodePolicy(payment_days=21, deadline_margin_days=28)
    assert deadline(date(2026, 11, 4), date(2026, 11, 2), policy) == date(2026, 11, 25)
    assert deadline(None, date(2026, 11, 2), policy) == date(2026, 11, 30)
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2024, 2, 29), 24) == date(2026, 2, 28)
