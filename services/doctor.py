"""``kvarboende doctor``: is this installation able to run unattended?

One :class:`Check` per thing that must hold, each with what to do when it does not.
A check that does not apply here (no SMS gateway configured, no Prefect server in the
demo, the demo's own local SMTP server) is skipped with the reason; skips do not fail.
Nothing is changed and no message is sent.
"""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from models.config import ConfigError, Settings, load_settings, missing_contact_settings
from models.db import as_utc, engine_scope, redacted, schema_revisions, session_scope

PASS, FAIL, SKIP = "ok", "FAIL", "skip"


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok, FAIL, skip
    detail: str
    todo: str = ""  # what to do when it failed


@dataclass(frozen=True)
class DoctorReport:
    checks: list[Check]

    @property
    def ok(self) -> bool:
        return all(check.status != FAIL for check in self.checks)


def run_checks(config_file: Path | None, now: datetime | None = None) -> DoctorReport:
    """Every check, in order; a configuration that does not load stops after the first."""
    now = now or datetime.now(UTC)
    try:
        settings = load_settings(config_file)
    except ConfigError as exc:
        return DoctorReport(
            [Check("configuration", FAIL, str(exc), "correct the key named above in config.toml")]
        )
    return DoctorReport([Check("configuration", PASS, "valid"), *check_all(settings, now)])


def check_all(settings: Settings, now: datetime | None = None) -> list[Check]:
    """Every check after the configuration's, on loaded settings."""
    now = now or datetime.now(UTC)
    checks: list[Check] = [check_contact_settings(settings)]
    database = check_database(settings)
    checks.append(database)
    checks += [check_smtp(settings), check_sms(settings)]
    checks += check_folders(settings)
    checks.append(check_prefect(settings))
    if database.status == PASS:
        checks += [check_snapshot(settings, now), check_last_daily(settings, now)]
    checks.append(check_disk(settings))
    return checks


def check_contact_settings(settings: Settings) -> Check:
    """The municipality's phone, website and email that every letter prints."""
    missing = missing_contact_settings(settings)
    if missing:
        return Check(
            "contact",
            FAIL,
            f"empty: {', '.join(missing)}",
            "fill them in under [municipality] in config.toml (letters print them)",
        )
    return Check("contact", PASS, "municipality phone, website and email set")


def check_database(settings: Settings) -> Check:
    url = settings.database.url
    try:
        with engine_scope(url) as engine:
            current, head = schema_revisions(engine)
    except Exception as exc:  # noqa: BLE001 - any failure: unreachable or unusable
        return Check(
            "database",
            FAIL,
            f"{redacted(url)} cannot be reached ({type(exc).__name__})",
            "check database.url / KVARBOENDE_DATABASE_URL and that the server runs",
        )
    if current is None:
        return Check("database", FAIL, "reachable, not initialised", "run `kvarboende init`")
    if current != head:
        return Check(
            "database",
            FAIL,
            f"reachable, schema {current}, this version needs {head}",
            "back up the database (README 'Backups'), then run `kvarboende init`",
        )
    return Check("database", PASS, f"reachable, migrations current ({head})")


def check_smtp(settings: Settings) -> Check:
    from connectors.smtp import SmtpUnavailable, check_connection

    smtp = settings.smtp
    where = f"{smtp.host}:{smtp.port}"
    if smtp.start_local:
        return Check("smtp", SKIP, f"demo: each run starts its own local server on {where}")
    try:
        check_connection(smtp)
    except SmtpUnavailable as exc:
        return Check(
            "smtp",
            FAIL,
            str(exc),
            "check [smtp] host, port, security, username and KVARBOENDE_SMTP_PASSWORD",
        )
    login = f", logged in as {smtp.username}" if smtp.username else " (no login configured)"
    return Check("smtp", PASS, f"{where} answers{login}; nothing sent")


def sms_base_url(settings: Settings) -> str:
    """The SMS gateway's address, or "" when no ``[sms]`` section (or no base_url) is set."""
    sms = getattr(settings, "sms", None)
    if sms is None or not getattr(sms, "enabled", True):
        return ""
    return str(getattr(sms, "base_url", "") or "")


def check_sms(settings: Settings) -> Check:
    from connectors.http_check import http_status

    transport = settings.sms.transport
    if transport != "http":
        what = "SMS written to a folder (demo)" if transport == "file" else "SMS not sent"
        return Check("sms gateway", SKIP, f"[sms] transport = {transport!r}: {what}")
    url = sms_base_url(settings)
    if not url:
        return Check(
            "sms gateway",
            FAIL,
            "[sms] transport = 'http' without base_url",
            "set [sms] base_url to the gateway's address",
        )
    try:
        status = http_status(url)
    except Exception as exc:  # noqa: BLE001 - httpx's connect, timeout and protocol errors
        return Check(
            "sms gateway",
            FAIL,
            f"{url} does not answer ({type(exc).__name__})",
            "check [sms] base_url and the network path to the gateway",
        )
    if status >= 500:
        return Check("sms gateway", FAIL, f"{url} answers {status}", "ask the SMS provider")
    return Check("sms gateway", PASS, f"{url} answers (HTTP {status})")


def _folders(settings: Settings) -> list[tuple[str, Path, bool]]:
    """(label, folder, may the group share it) for every folder the program uses."""
    paths = settings.paths
    folders = [
        ("archive", paths.archive_dir, False),
        ("rejected files", paths.rejected_dir, False),
        ("letters", paths.letters_dir, False),
        ("print batches", paths.print_dir, False),
        ("worklists", paths.worklist_dir, False),
        ("reports", paths.reports_dir, False),
        ("mail", paths.mail_dir, False),
    ]
    # An inbox may be written by the company's SFTP account (a group): others, never.
    folders += [
        (f"inbox {c.id}", c.inbox or paths.inbox_dir / c.id, True) for c in settings.companies
    ]
    return folders


def check_folders(settings: Settings) -> list[Check]:
    checks = []
    for label, folder, group_ok in _folders(settings):
        name = f"folder {label}"
        if not folder.is_dir():
            checks.append(
                Check(name, FAIL, f"{folder} is missing", "run `kvarboende init` (creates it 0700)")
            )
            continue
        mode = stat.S_IMODE(folder.stat().st_mode)
        closed = 0o007 if group_ok else 0o077
        if mode & closed:
            wanted = "no access for others (e.g. 0770)" if group_ok else "0700"
            checks.append(
                Check(
                    name, FAIL, f"{folder} is {mode:04o}", f"chmod it to {wanted}: `chmod go-rwx`"
                )
            )
            continue
        if not os.access(folder, os.W_OK):
            checks.append(
                Check(
                    name, FAIL, f"{folder} is not writable", "give the program's user write access"
                )
            )
            continue
        checks.append(Check(name, PASS, f"{folder} ({mode:04o})"))
    return checks


def check_prefect(settings: Settings) -> Check:
    api = os.environ.get("PREFECT_API_URL", "")
    if not api:
        return Check(
            "prefect",
            SKIP,
            "no Prefect server configured (PREFECT_API_URL unset): nothing is scheduled; "
            "fine for the demo and for `kvarboende run daily` from cron",
        )
    from domain.schedules import deployment_schedule_keys
    from services.prefect_api import read_deployments

    keys = deployment_schedule_keys(bool(settings.cases.sql_url))
    expected = {
        name: getattr(settings.schedules, key) if key else None for name, key in keys.items()
    }

    try:
        found = read_deployments(api, list(expected))
    except Exception as exc:  # noqa: BLE001 - unreachable, refused, timed out
        return Check(
            "prefect",
            FAIL,
            f"API {api} does not answer ({type(exc).__name__})",
            "start it (`prefect server start`) or correct PREFECT_API_URL",
        )
    problems = []
    for name, cron in expected.items():
        if name not in found:
            problems.append(f"{name} not deployed")
        elif cron is not None and cron not in found[name]:
            problems.append(f"{name} scheduled {found[name] or 'never'}, expected {cron!r}")
    if problems:
        return Check(
            "prefect",
            FAIL,
            f"API answers; {'; '.join(problems)}",
            "run `kvarboende serve` (one machine) or `kvarboende deploy --pool NAME`",
        )
    return Check("prefect", PASS, f"API answers; {len(found)} deployments with their schedules")


def check_snapshot(settings: Settings, now: datetime) -> Check:
    from services.cases import latest_snapshot

    limit = settings.operations.snapshot_max_age_days
    with engine_scope(settings.database.url) as engine, session_scope(engine) as session:
        snapshot = latest_snapshot(session)
        imported = as_utc(snapshot.imported_at) if snapshot is not None else None
        cases = snapshot.cases if snapshot is not None else 0
    how = (
        "the nightly cases-import deployment reads [cases] sql_url; check its runs"
        if settings.cases.sql_url
        else "import a fresh export: `kvarboende cases import cases.csv --household household.csv`"
    )
    if imported is None:
        return Check("case register", FAIL, "no snapshot imported", how)
    age = now - imported
    text = f"latest snapshot imported {age.days} days ago ({cases} cases)"
    if age > timedelta(days=limit):
        return Check("case register", FAIL, f"{text}, more than {limit}", how)
    return Check("case register", PASS, text)


def check_last_daily(settings: Settings, now: datetime) -> Check:
    from services.operations import COMPLETED, last_run

    limit = settings.operations.daily_max_age_days
    with engine_scope(settings.database.url) as engine, session_scope(engine) as session:
        run = last_run(session, "daily", COMPLETED)
    todo = "see the failed runs in Prefect (or the alert emails); run `kvarboende run daily`"
    if run is None:
        return Check("daily run", FAIL, "no successful daily run recorded", todo)
    age = now - run.started_at
    text = f"last successful run {run.started_at:%Y-%m-%d %H:%M} UTC (run date {run.run_date})"
    if age > timedelta(days=limit):
        return Check("daily run", FAIL, f"{text}, more than {limit} days ago", todo)
    return Check("daily run", PASS, text)


def check_disk(settings: Settings) -> Check:
    folder = settings.paths.archive_dir
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    free_mb = shutil.disk_usage(folder).free // (1024 * 1024)
    need = settings.operations.min_free_disk_mb
    text = f"{free_mb} MB free for {settings.paths.archive_dir}"
    if free_mb < need:
        return Check("disk", FAIL, f"{text}, less than {need} MB", "free space or move the archive")
    return Check("disk", PASS, text)
