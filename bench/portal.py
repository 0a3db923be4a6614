"""Benchmark: the portal's pages with 10,000 open episodes in PostgreSQL, p50/p95 per page.

Builds a scratch PostgreSQL schema with a synthetic history (bench/worklist.py's
generator: about 45 % of the episodes are open), accounts for every role and the
monthly statistics; starts the portal with uvicorn in a subprocess on loopback; then,
from a second process, logs in per role and requests each page in a bounded loop with
httpx, and prints p50/p95 per page (wall time on loopback: server time plus a little).

    .venv/bin/python bench/portal.py                    # 22,500 episodes, ~10,000 open
    .venv/bin/python bench/portal.py --episodes 5000 --requests 30

Pages whose route does not exist on this branch (an advisor's page, say) answer 404 in
the warm-up and are reported as "not here" instead of measured: the list of URLs per
role below is the list to extend.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select, text

from models.config import Settings

ROOT = Path(__file__).resolve().parents[1]
# bench/ itself must not be on the path: bench/letters.py would hide the letters package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

PG_URL = os.environ.get(
    "KVARBOENDE_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
PASSWORD = "bench-lösenord-1"
REPORT_MONTH = "2026-10"

#: Role -> (user name, [(page label, URL)]). ``{episode}`` is an episode of that user,
#: ``{other}`` another caseworker's (expected 404), ``{file}`` one of the company's files,
#: ``{advised}`` an open advisor episode with a booked meeting (episode page, new times).
PAGES: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "advisor": (
        "radgivare1",
        [
            ("advisor worklist", "/radgivare"),
            ("advisor worklist day", "/radgivare?dag=2026-11-23"),
            ("advisor episode", "/radgivare/arenden/{advised}"),
            ("advisor episode routed", "/radgivare/arenden/{episode}"),
            ("advisor search", "/radgivare/sok?q=Gatan+12"),
            ("advisor search p3", "/radgivare/sok?q=Gatan+12&sida=3"),
            ("advisor search pnr", "/radgivare/sok?q=190000012345"),
            ("advisor search name", "/radgivare/sok?q=Hyresg%C3%A4st+4711"),
            ("advisor search number", "/radgivare/sok?q=4711"),
            ("advisor rebook slots", "/radgivare/arenden/{advised}/ny-tid"),
            ("advisor matches", "/radgivare/traffar"),
            ("advisor home", "/"),
            ("own account", "/konto"),
        ],
    ),
    "caseworker": (
        "hl1",
        [
            ("caseworker list", "/handlaggare"),
            ("caseworker list p2", "/handlaggare?sida=2&alla=1"),
            ("caseworker episode", "/handlaggare/arenden/{episode}"),
        ],
    ),
    "manager": (
        "chef",
        [
            ("manager report month", f"/chef?manad={REPORT_MONTH}"),
            ("manager report year", "/chef?ar=2026"),
            ("manager report json", f"/chef/rapport.json?manad={REPORT_MONTH}"),
        ],
    ),
    "company": (
        "bolag",
        [
            ("company receipts", "/foretag"),
            ("company receipt", "/foretag/kvitton/{file}"),
            ("company receipt csv", "/foretag/kvitton/{file}.csv"),
            ("company receipt xlsx", "/foretag/kvitton/{file}.xlsx"),
        ],
    ),
    "admin": (
        "admin",
        [
            ("admin audit", "/admin/logg"),
            ("admin audit p20", "/admin/logg?sida=20"),
            ("admin audit by user", "/admin/logg?vem=hl7"),
            ("admin audit episode", "/admin/logg?arende={episode}"),
            ("admin audit days", "/admin/logg?fran=2026-01-01&till=2026-01-31"),
            ("admin accounts", "/admin"),
            ("admin companies", "/admin/bolag"),
        ],
    ),
}


def bench_settings(url: str, folder: Path) -> Settings:
    from models.config import AdvisorConfig, CompanyConfig, PathsConfig, Settings

    settings = Settings(
        advisors=[AdvisorConfig(id="radgivare1", name="Anna", email="anna@x.se", location="Hus 1")],
        companies=[CompanyConfig(id="bo", name="Bo AB")],
        paths=PathsConfig(
            data_dir=folder, letters_dir=folder / "letters", reports_dir=folder / "reports"
        ),
    )
    settings.database.url = url
    settings.web.cookie_secure = False  # plain http on loopback
    settings.web.login_max_failures_per_address = 10_000
    return settings


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def seed_matches_and_audit(engine, audit_rows: int) -> None:  # noqa: ANN001
    """Matches waiting for the advisor (one in 50 open advisor episodes) and an audit log
    of ``audit_rows`` entries over three years, as a portal in use for years leaves it."""
    import random
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import insert

    from models.tables import AuditLog, CaseSnapshot, Episode, Match, RegisterCase

    rnd = random.Random(11)
    now = datetime.now(UTC)
    with engine.begin() as connection:
        ids = connection.scalars(
            select(Episode.id)
            .where(Episode.routing == "advisor", Episode.status != "closed")
            .order_by(Episode.id)
        ).all()[::50]
        connection.execute(
            insert(CaseSnapshot.__table__),
            [{"id": 1, "taken_on": now.date(), "source": "bench", "imported_at": now}],
        )
        connection.execute(
            insert(RegisterCase.__table__),
            [
                {"id": k + 1, "snapshot_id": 1, "case_ref": f"C{k}", "caseworker_id": "hl1"}
                for k in range(len(ids))
            ],
        )
        connection.execute(
            insert(Match.__table__),
            [
                {"episode_id": e, "snapshot_id": 1, "case_id": k + 1, "case_ref": f"C{k}",
                 "tier": "probable", "score": 0.8, "reasons": "samma adress och lägenhet",
                 "decision": "pending", "created_at": now}
                for k, e in enumerate(ids)
            ],
        )  # fmt: skip
        actors = ["radgivare1", "chef", "bolag", "admin"] + [f"hl{k}" for k in range(40)]
        actions = ["read_episode", "view_worklist", "login", "view_receipt", "list_episodes"]
        rows = []
        for k in range(audit_rows):
            rows.append(
                {"at": now - timedelta(seconds=int(3 * 365 * 86400 * (1 - k / audit_rows))),
                 "actor": rnd.choice(actors), "action": rnd.choice(actions), "entity": "episode",
                 "entity_id": str(episode_id := rnd.randrange(1, 22_500)),
                 "episode_id": episode_id, "address": "10.0.0.1"}
            )  # fmt: skip
            if len(rows) == 20_000:
                connection.execute(insert(AuditLog.__table__), rows)
                rows = []
        if rows:
            connection.execute(insert(AuditLog.__table__), rows)
    print(f"seeded {len(ids)} pending matches and {audit_rows} audit entries")


def build(url: str, episodes: int, folder: Path, audit_rows: int = 500_000) -> None:
    """Schema, synthetic episodes, accounts for every role and the statistics facts."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_worklist", ROOT / "bench" / "worklist.py")
    assert spec is not None and spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)  # the worklist bench's synthetic history
    RUN, generate = generator.RUN, generator.generate
    from flows.stages.statistics import refresh_stat_facts_for
    from models.db import make_engine, session_scope, upgrade
    from services import users

    engine = make_engine(url)
    upgrade(engine)
    started = time.perf_counter()
    generate(engine, episodes)
    settings = bench_settings(url, folder)
    with session_scope(engine) as session:
        for name, role, extra in (
            ("radgivare1", "advisor", {}),
            ("hl1", "caseworker", {"caseworker_id": "hl1"}),
            ("chef", "manager", {}),
            ("bolag", "company", {"company_id": "bo"}),
            ("admin", "admin", {}),
        ):
            users.create_user(session, name, PASSWORD, role, **extra)
    seed_matches_and_audit(engine, audit_rows)
    months = [f"2025-{m:02d}" for m in range(10, 13)] + [f"2026-{m:02d}" for m in range(1, 12)]
    refresh_stat_facts_for(engine, settings, months, today=RUN)
    with engine.connect() as connection:
        opened = connection.scalar(text("SELECT count(*) FROM episode WHERE status <> 'closed'"))
        routed = connection.scalar(
            text(
                "SELECT count(*) FROM episode "
                "WHERE routing = 'caseworker' AND caseworker_id = 'hl1'"
            )
        )
    print(
        f"built {episodes} episodes ({opened} open; {routed} routed to hl1) "
        f"in {time.perf_counter() - started:.1f} s"
    )
    engine.dispose()


def serve(url: str, port: int, folder: str) -> None:
    """The portal on loopback (run in its own process by :func:`main`)."""
    import uvicorn

    from web.app import create_app

    app = create_app(bench_settings(url, Path(folder)))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


_CSRF = re.compile(r'name="(?:csrf_token)" value="([^"]+)"')


def _login(client: TestClient, username: str) -> None:
    page = client.get("/logga-in")
    token = _CSRF.search(page.text).group(1)
    answer = client.post(
        "/logga-in", data={"username": username, "password": PASSWORD, "csrf_token": token}
    )
    if answer.status_code != 303:
        raise SystemExit(f"login as {username} failed ({answer.status_code})")


def drive(base: str, values: dict[str, str], requests: int) -> list[tuple]:
    """The load: per role, log in, then each page ``requests`` times one after another."""
    import httpx

    rows = []
    for _role, (username, pages) in PAGES.items():
        with httpx.Client(base_url=base, follow_redirects=False, timeout=30) as client:
            _login(client, username)
            for label, template in pages:
                path = template.format(**values)
                first = client.get(path)
                if first.status_code == 404:
                    rows.append((label, path, None, None, 404))
                    continue
                timings = []
                for _ in range(requests):
                    started = time.perf_counter()
                    answer = client.get(path)
                    timings.append((time.perf_counter() - started) * 1000)
                    answer.read()
                timings.sort()
                p95 = timings[max(0, int(len(timings) * 0.95) - 1)]
                rows.append((label, path, statistics.median(timings), p95, answer.status_code))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=22_500)
    parser.add_argument("--requests", type=int, default=40, help="requests per page")
    parser.add_argument("--audit", type=int, default=500_000, help="audit log entries")
    args = parser.parse_args()
    import tempfile

    from models.db import make_engine

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT", hide_parameters=True)
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    server = None
    try:
        with tempfile.TemporaryDirectory() as folder:
            build(url, args.episodes, Path(folder), args.audit)
            from models.tables import Appointment, Episode, NoticeFile

            engine = make_engine(url)
            with engine.connect() as connection:
                episode = connection.scalar(
                    select(Episode.id).where(Episode.caseworker_id == "hl1").limit(1)
                )
                other = connection.scalar(
                    select(Episode.id).where(Episode.caseworker_id == "hl2").limit(1)
                )
                file_id = connection.scalar(select(NoticeFile.id).limit(1))
                advised = connection.scalar(
                    select(Appointment.episode_id)
                    .join(Episode, Episode.id == Appointment.episode_id)
                    .where(Appointment.status == "booked", Episode.status != "closed")
                    .limit(1)
                )
            engine.dispose()
            port = _free_port()
            server = subprocess.Popen(
                [sys.executable, __file__, "--serve", url, str(port), folder],
                cwd=ROOT,
            )
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise SystemExit("the portal did not start") from None
                    time.sleep(0.2)
            values = {
                "episode": str(episode),
                "other": str(other),
                "file": str(file_id),
                "advised": str(advised),
            }
            # The load comes from a second process, as a browser's would.
            load = subprocess.run(
                [sys.executable, __file__, "--drive", base, json.dumps(values), str(args.requests)],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=3600,
            )
            if load.returncode != 0:
                raise SystemExit(f"the load process failed:\n{load.stderr[-2000:]}")
            rows = json.loads(load.stdout)
            print(f"\n{'page':<24} {'p50 ms':>8} {'p95 ms':>8}  status  url")
            for label, path, p50, p95, status in rows:
                if p50 is None:
                    print(f"{label:<24} {'not here':>17}  {status}     {path}")
                    continue
                flag = "  > 200 ms" if p95 > 200 else ""
                print(f"{label:<24} {p50:8.1f} {p95:8.1f}  {status}     {path}{flag}")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--serve":
        serve(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    elif len(sys.argv) == 5 and sys.argv[1] == "--drive":
        print(json.dumps(drive(sys.argv[2], json.loads(sys.argv[3]), int(sys.argv[4]))))
    else:
        main()
