"""``kvarboende appointments`` and ``kvarboende outbox`` through the real command line."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from booking_helpers import add_episode

from flows.cli import main
from flows.stages.booking import book_appointments
from models.config import load_settings
from models.db import make_engine


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "k.db"}"\n'
        f'[paths]\nletters_dir = "{tmp_path / "letters"}"\nprint_dir = "{tmp_path / "print"}"\n'
        '[municipality]\nphone = "08-1"\nwebsite = "exempelby.se"\nemail = "s@exempelby.se"\n'
        '[[companies]]\nid = "vasbyhem"\nname = "Bo AB"\n'
        '[[advisors]]\nid = "a1"\nname = "Anna"\nlocation = "Medborgarhuset"\n'
        'address = "Storgatan 1, Exempelby"\n'
        'phone = "08-1"\n[advisors.hours]\nmon = ["09:00-12:00"]\nthu = ["09:00-12:00"]\n'
        "[smtp]\nstart_local = false\n",
        encoding="utf-8",
    )
    return path


def test_rebook_cancel_and_outbox_list(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--config", str(config)]
    assert main([*args, "init"]) == 0
    settings = load_settings(config)
    engine = make_engine(settings.database.url)
    episode = add_episode(engine, name="Hemlig Person")
    capsys.readouterr()

    assert main([*args, "appointments", "cancel", str(episode), "--date", "2026-11-02"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no booked appointment" in err

    book_appointments(engine, settings, date(2026, 11, 2))
    code = main([*args, "appointments", "rebook", str(episode), "--date", "2026-11-02"])
    assert code == 0
    out = capsys.readouterr().out  # the new time and place, the advisor's name
    assert (
        "new time Monday 2026-11-09 09:45-10:30, Medborgarhuset, Storgatan 1, Exempelby (Anna); "
        "1 letter" in out
    )
    # A time agreed on the phone outside the advisor's hours: one line saying why.
    at = ["appointments", "rebook", str(episode), "--at", "2026-11-12 12:30"]
    assert main([*args, *at, "--date", "2026-11-02"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "outside the advisors' hours" in err
    at = ["appointments", "rebook", str(episode), "--at", "2026-11-12 10:30"]
    assert main([*args, *at, "--date", "2026-11-02"]) == 0
    assert "new time Thursday 2026-11-12 10:30" in capsys.readouterr().out
    assert main([*args, "appointments", "cancel", str(episode), "--by", "anna"]) == 0
    assert "appointment cancelled; 1 letter queued" in capsys.readouterr().out

    assert main([*args, "outbox", "list", "--ids"]) == 0
    out = capsys.readouterr().out
    # The rebooked time was cancelled before its letter went out: the newer letter
    # superseded it when it was queued.
    assert "appointment_cancelled" in out and "pending" in out and "superseded" in out
    assert "Hemlig" not in out and "Ringvägen" not in out

    assert main([*args, "outbox", "deliver", "--date", "2026-11-02"]) == 0
    # Both rebooked times' letters were superseded when queued: only the cancellation is
    # printed.
    out = capsys.readouterr().out
    assert "printed=1 print_batches=1" in out
    assert main([*args, "appointments", "rebook", "x"]) == 2
    assert "Invalid value" in capsys.readouterr().err
    assert main([*args, "appointments", "rebook", "1", "--date", "2026-02-30"]) == 2
    assert "--date" in capsys.readouterr().err
