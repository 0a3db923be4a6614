"""Configuration: one commented TOML file, overridable from the environment.

The file is ``./config.toml`` unless ``--config`` or ``KVARBOENDE_CONFIG`` says
otherwise. Every key can be overridden by an environment variable named
``KVARBOENDE_<SECTION>_<KEY>`` (split once, at the first underscore after the
section), e.g. ``KVARBOENDE_DATABASE_URL`` or ``KVARBOENDE_SMTP_PASSWORD``, so that
secrets never need to live in the file.
"""

from __future__ import annotations

import os
import tomllib
from datetime import date, time
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from models.errors import KvarboendeError

DEFAULT_CONFIG = "config.toml"
CONFIG_ENV = "KVARBOENDE_CONFIG"

LandlordType = Literal["municipal", "private", "cooperative", "social_contract"]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class ConfigError(KvarboendeError):
    """A configuration problem, worded as one line for the operator."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


#: The database URLs kvarboende runs on, for messages.
DATABASE_URL_FORMS = "sqlite:///path or postgresql+psycopg://user@host/db"


def postgres_driver(url: str) -> str:
    """``postgres://`` and ``postgresql://`` as ``postgresql+psycopg://``, the installed driver."""
    scheme, found, rest = url.partition("://")
    if found and scheme.lower() in ("postgres", "postgresql"):
        return f"postgresql+psycopg://{rest}"
    return url


def database_url(url: str) -> str:
    """The URL SQLAlchemy is given; ValueError (one line, no credentials) when unusable.

    ``postgres://`` and ``postgresql://`` (as Heroku and many hosting panels write them)
    mean the psycopg 3 driver the project installs: SQLAlchemy would otherwise refuse
    the first and pick a driver that is not installed for the second. Other databases
    are refused here, before a driver import fails with a traceback.
    """
    from sqlalchemy.engine import make_url

    scheme, found, rest = postgres_driver(url.strip()).partition("://")
    if not found or scheme.lower() not in ("sqlite", "postgresql+psycopg"):
        what = f"{scheme!r} databases are not supported" if found and scheme else "not a URL"
        raise ValueError(f"{what}; use {DATABASE_URL_FORMS}")
    normal = f"{scheme}://{rest}"
    try:
        make_url(normal)
    except Exception:  # noqa: BLE001 - ArgumentError or ValueError (a bad port)
        raise ValueError(f"not a valid URL; use {DATABASE_URL_FORMS}") from None
    return normal


class DatabaseConfig(_Section):
    url: str = "sqlite:///data/kvarboende.db"
    echo: bool = False
    #: A second run waits this long for a stage another run is in, then skips that stage.
    stage_lock_wait_seconds: float = Field(default=1800, ge=0)

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        return database_url(value)


class MunicipalityConfig(_Section):
    name: str = "Exempelby kommun"
    code: str = "0000"
    social_services: str = "Individ- och familjeomsorgen"
    address: str = ""
    phone: str = ""
    email: str = ""
    website: str = ""
    inhabitants: int = Field(default=50_000, gt=0)
    children: int = Field(default=11_000, gt=0)


class PathsConfig(_Section):
    data_dir: Path = Path("data")
    inbox_dir: Path = Path("data/inbox")
    archive_dir: Path = Path("data/archive")
    rejected_dir: Path = Path("data/rejected")
    letters_dir: Path = Path("data/out/letters")
    print_dir: Path = Path("data/out/print")
    worklist_dir: Path = Path("data/out/worklists")
    reports_dir: Path = Path("data/out/reports")
    mail_dir: Path = Path("data/out/mail")
    # The demo's "phone": SMS reminders written as text files when [sms] transport = "file".
    sms_dir: Path = Path("data/out/sms")
    register_dir: Path = Path("data/register")


class CompanyConfig(_Section):
    """A housing company that sends notice files."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    name: str
    landlord_type: LandlordType = "municipal"
    inbox: Path | None = None
    day_first: bool = False
    sheet: str | None = None
    columns: dict[str, str] = Field(default_factory=dict)
    events: dict[str, str] = Field(default_factory=dict)
    upload_token_sha256: str = Field(default="", pattern=r"^([0-9a-f]{64})?$")
    # Where the receipt of every file (uploaded or delivered to the inbox) is emailed;
    # empty: the receipts are only in the portal.
    contact_email: str = ""
    # An inbox file is taken only when unchanged for this long (a company may still be
    # writing). 0 in the demo; 30-60 in production when uploads do not use .part names.
    min_age_seconds: float = Field(default=0.0, ge=0)
    # How often the company delivers a file, in days (7 weekly, 30 monthly, 91 quarterly).
    # None: measured from its deliveries (days between files, lag from event to receipt).
    # The silence rule waits this long on top of outcomes.follow_up_days.
    reporting_interval_days: int | None = Field(default=None, ge=1, le=366)


class AdvisorConfig(_Section):
    """A housing advisor (boenderådgivare) and their weekly calendar."""

    id: str
    name: str
    email: str = ""
    phone: str = ""
    location: str
    address: str = ""
    slot_minutes: int = Field(default=45, gt=0, le=480)
    capacity: int = Field(default=1, ge=1, le=20)
    hours: dict[str, list[str]] = Field(default_factory=dict)
    blocked_dates: list[date] = Field(default_factory=list)

    @field_validator("hours")
    @classmethod
    def _check_hours(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for day, ranges in value.items():
            if day not in WEEKDAYS:
                raise ValueError(f"unknown weekday {day!r}, use one of {', '.join(WEEKDAYS)}")
            for item in ranges:
                parse_time_range(item)
        return value


def parse_time_range(text: str) -> tuple[time, time]:
    """Parse ``"09:00-12:00"`` into two times; raise ValueError with the text."""
    try:
        start_text, end_text = text.split("-")
        start, end = time.fromisoformat(start_text.strip()), time.fromisoformat(end_text.strip())
    except ValueError as exc:
        raise ValueError(f"time range {text!r} must look like 09:00-12:00") from exc
    if end <= start:
        raise ValueError(f"time range {text!r} ends before it starts")
    return start, end


class UploadConfig(_Section):
    """No longer used (the portal, ``[web]``, serves uploads); kept so older files still load."""

    host: str = "127.0.0.1"
    port: int = Field(default=8470, gt=0, lt=65536)


class WebConfig(_Section):
    """The web portal (``kvarboende web``); serve it behind the municipality's HTTPS proxy."""

    host: str = "127.0.0.1"
    port: int = Field(default=8000, gt=0, lt=65536)
    # The address people open in their browser; staff emails and the demo print it.
    public_url: str = "http://127.0.0.1:8000"
    idle_timeout_minutes: int = Field(default=30, ge=1, le=24 * 60)
    # Secure cookies need HTTPS; browsers also accept them on http://127.0.0.1 and localhost.
    cookie_secure: bool = True
    login_max_failures: int = Field(default=5, ge=1)
    login_max_failures_per_address: int = Field(default=20, ge=1)
    login_lock_minutes: int = Field(default=15, ge=1)
    max_upload_mb: int = Field(default=50, ge=1, le=1024)
    max_files_per_upload: int = Field(default=10, ge=1, le=100)
    # Single sign-on: the municipality's reverse proxy puts the signed-in user name in
    # this header (e.g. "X-Remote-User"); accepted only from these proxy addresses.
    sso_header: str = ""
    trusted_proxies: list[str] = Field(default_factory=list)

    def link(self, path: str) -> str:
        """The full address of a portal page, for emails: ``link("/chef")``."""
        return self.public_url.rstrip("/") + "/" + path.lstrip("/")


class FilesConfig(_Section):
    """Caps on one notice file, checked before any reader sees it (decompression bombs).

    The defaults are far above any real export; a file beyond them is rejected with a
    receipt line instead of taking the machine's memory or stopping the daily run.
    """

    max_csv_mb: int = Field(default=500, gt=0)
    max_uncompressed_mb: int = Field(default=200, gt=0)  # an XLSX, unpacked
    max_rows: int = Field(default=2_000_000, gt=0)
    max_columns: int = Field(default=200, gt=0)
    max_cell_chars: int = Field(default=32_767, gt=0)  # Excel's own limit per cell
    max_line_chars: int = Field(default=100_000, gt=0)  # one CSV line


class NoticeConfig(_Section):
    """Row checks on the companies' notice files that are a judgement, not a format."""

    # An eviction dated more than this many years after the notice (or the run date, if
    # later) is a typing error (the year 3000), rejected with a reason in the receipt.
    eviction_years_ahead: int = Field(default=2, ge=1, le=10)


class BookingConfig(_Section):
    postal_days: int = Field(default=2, ge=0, le=15)
    deadline_margin_days: int = Field(default=28, ge=0, le=120)
    horizon_days: int = Field(default=60, ge=7, le=365)
    payment_days: int = Field(default=21, ge=1, le=90)
    # Working days from the letter's date to the meeting, wanted whenever the deadline
    # allows (shorter only when it forces it; never shorter than the channel carries).
    min_lead_days_print: int = Field(default=5, ge=1, le=30)
    min_lead_days_email: int = Field(default=2, ge=1, le=30)
    # A meeting lies at least this many working days before a booked eviction.
    eviction_margin_working_days: int = Field(default=2, ge=0, le=30)
    # A match review still undecided: at the top of the worklist this many days before
    # the deadline (or eviction) ...
    review_urgent_days: int = Field(default=10, ge=0, le=90)
    # ... and booked and lettered as unknown to social services this many working days
    # before it (the advisor can still confirm the match later).
    review_book_working_days: int = Field(default=5, ge=0, le=30)


class SmtpConfig(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8025, gt=0, lt=65536)
    username: str = ""
    password: SecretStr = SecretStr("")
    security: Literal["none", "starttls", "tls"] = "none"
    from_address: str = "boenderadgivning@exempelby.se"
    from_name: str = "Boenderådgivningen"
    timeout_seconds: float = Field(default=30, gt=0)
    rate_per_second: float = Field(default=20, gt=0)
    max_attempts: int = Field(default=5, ge=1)
    start_local: bool = True
    # Wait before retrying after a temporary failure; doubles with every attempt.
    backoff_seconds: float = Field(default=2.0, ge=0)
    # A letter held 'sending' longer than this by a run on another machine is taken over.
    claim_timeout_seconds: float = Field(default=600, gt=0)
    # CA bundle (PEM) that signs the SMTP server's certificate, when it is not a public CA.
    ca_file: str = ""
    # An appointment email goes out only when the meeting is at least this far away;
    # otherwise a new time is booked (a new letter version) or the worklist says so.
    email_min_notice_hours: float = Field(default=12, ge=0)
    # Staff emails (no paper form): temporary failures are retried across runs for at
    # least this long, pausing staff_backoff_minutes, doubling up to staff_backoff_max_minutes.
    staff_retry_hours: float = Field(default=24, ge=0)
    staff_backoff_minutes: float = Field(default=5, ge=0)
    staff_backoff_max_minutes: float = Field(default=240, ge=0)
    # A staff email that finally failed stays on the first advisor's worklist this many days.
    staff_failure_days: int = Field(default=14, ge=1)


class RemindersConfig(_Section):
    """A reminder the working day before each booked meeting (SMS, else email)."""

    enabled: bool = True
    # Not sent before this time (Stockholm) on the working day before the meeting.
    send_from: time = time(8, 0)
    # Never sent when the meeting is closer than this: the worklist asks for a phone call.
    min_notice_hours: float = Field(default=2, ge=0)
    # Retries after a temporary failure (gateway 5xx, timeout): pause doubling each time.
    max_attempts: int = Field(default=5, ge=1)
    backoff_seconds: float = Field(default=300, ge=0)
    # A reminder held 'sending' longer than this by a run on another machine is taken over.
    claim_timeout_seconds: float = Field(default=600, gt=0)


class SmsConfig(_Section):
    """The SMS gateway (HTTP), or ``file``: text files in ``paths.sms_dir`` (the demo).

    ``none`` (the default for configuration files without ``[sms]``): no SMS at all,
    reminders go by email where there is an address.
    """

    transport: Literal["none", "http", "file"] = "none"
    # 46elks: https://api.46elks.com, path /a1/sms, form fields from/to/message, basic auth.
    base_url: str = "https://api.46elks.com"
    path: str = "/a1/sms"
    username: str = ""
    password: SecretStr = SecretStr("")
    # Shown as the sender on the phone: 3-11 letters or digits, starting with a letter.
    sender: str = Field(default="Exempelby", pattern=r"^[A-Za-z][A-Za-z0-9]{2,10}$")
    timeout_seconds: float = Field(default=10, gt=0)
    # How the request body is sent, and its fields: every value is a template with
    # {sender}, {to} (E.164, +46701234567), {message} and {key} (the reminder's key).
    body_format: Literal["form", "json"] = "form"
    payload: dict[str, str] = Field(
        default_factory=lambda: {"from": "{sender}", "to": "{to}", "message": "{message}"}
    )
    # Header carrying the reminder's idempotency key, for gateways that honour one
    # (empty: none is sent).
    idempotency_header: str = "Idempotency-Key"
    # The field of the gateway's JSON answer that holds its message id.
    id_field: str = "id"
    # Delivery reports: the gateway posts each SMS's fate (form fields id, status
    # "delivered"/"failed") to <web.public_url>/api/v1/sms-status/<status_secret>; the
    # payload template's {status_url} is that address. Empty: no delivery reports.
    status_secret: SecretStr = SecretStr("")


class ScheduleConfig(_Section):
    timezone: str = "Europe/Stockholm"
    daily: str = "30 6 * * 1-5"
    # New inbox files during the day: ingest, match, route, book, letters, delivery.
    inbox: str = "*/15 7-17 * * 1-5"
    # The outbox between daily runs: retries of letters and staff emails (greylisting).
    delivery: str = "*/15 7-17 * * 1-5"
    monthly_report: str = "0 7 1 * *"
    # A new case-register snapshot from the case system, when [cases] sql_url is set.
    cases_import: str = "0 2 * * *"

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("unknown time zone, use a name like Europe/Stockholm") from None
        return value


class OperationsConfig(_Section):
    """Running unattended: alerts to the operators and the thresholds of ``kvarboende doctor``."""

    # Who gets an email when a run fails or is missed, a stage keeps failing, an inbox
    # file cannot be read or letters are overdue (ids, counts and what to do; no personal data).
    alert_emails: list[str] = Field(default_factory=list)
    # A stage that failed on this many consecutive runs is alerted (once per streak).
    stage_failure_streak: int = Field(default=3, ge=1)
    # A letter still not sent this many days after it was queued is overdue.
    letter_overdue_days: int = Field(default=1, ge=0)
    # A scheduled run that has not started this many minutes after its time is missed.
    missed_run_grace_minutes: int = Field(default=30, ge=1)
    # How far back missed runs are looked for (a worker down over a long weekend).
    missed_run_lookback_days: int = Field(default=7, ge=1)
    # A run still marked running after this many hours died with its process: alerted.
    run_hung_hours: float = Field(default=6, gt=0)
    # doctor: the case-register snapshot and the last successful daily run may be this old.
    snapshot_max_age_days: int = Field(default=7, ge=1)
    daily_max_age_days: int = Field(default=4, ge=1)
    # doctor: free space needed on the archive's file system.
    min_free_disk_mb: int = Field(default=1024, ge=0)


class OutcomeConfig(_Section):
    follow_up_days: int = Field(default=90, ge=1)
    recurrence_months: int = Field(default=24, ge=1)
    eviction_horizon_days: int = Field(default=14, ge=1)
    follow_up_check_days: int = Field(default=30, ge=1)
    presume_settled_statuses: list[str] = Field(default_factory=lambda: ["termination_notice"])
    phone_call_days: int = Field(default=1, ge=0, le=30)
    home_visit_days: int = Field(default=3, ge=0, le=30)

    @field_validator("presume_settled_statuses")
    @classmethod
    def _check_statuses(cls, value: list[str]) -> list[str]:
        allowed = ("termination_notice", "payment_order", "decision", "eviction_scheduled")
        for status in value:
            if status not in allowed:
                raise ValueError(
                    f"unknown open status {status!r}, use some of {', '.join(allowed)}"
                )
        return value


class StatisticsConfig(_Section):
    suppress_threshold: int = Field(default=4, ge=0)
    json_exact: bool = False
    managers: list[str] = Field(default_factory=list)
    freeze_after_months: int = Field(default=24, ge=2)
    national_evictions_per_10000: dict[str, float] = Field(default_factory=dict)
    national_child_evictions_per_10000: dict[str, float] = Field(default_factory=dict)
    # Kronofogden's national counts per year, for the yearly report's comparison.
    national_applications: dict[str, int] = Field(default_factory=dict)
    national_evictions: dict[str, int] = Field(default_factory=dict)
    national_children_affected: dict[str, int] = Field(default_factory=dict)


class RegisterConfig(_Section):
    """The social-services case register export (or a SQL source)."""

    # canonical field = the export's header, or a list of headers joined with a space
    # (name = ["Förnamn", "Efternamn"]); unmapped fields are recognised by usual headers.
    columns: dict[str, str | list[str]] = Field(default_factory=dict)
    household_columns: dict[str, str | list[str]] = Field(default_factory=dict)
    sql_url: str = ""
    sql_query: str = ""
    sql_household_query: str = ""

    @field_validator("sql_url")
    @classmethod
    def _check_sql_url(cls, value: str) -> str:
        # Any database the case system runs on (its driver installed); postgres:// as psycopg.
        return postgres_driver(value.strip())

    #: Score from which a probable match is auto-accepted (calibrated by bench/matching.py).
    probable_threshold: float = Field(default=0.72, ge=0.0, le=1.0)


class RetentionConfig(_Section):
    """Gallring (``kvarboende retention``): years after the last entry, research birth days."""

    years_after_last_entry: int = Field(default=5, ge=1)
    keep_birth_days: list[Annotated[int, Field(ge=1, le=31)]] = Field(
        default_factory=lambda: [5, 15, 25]
    )
    # Worklist files (working copies listing names and personnummer) older than this go.
    worklist_days: int = Field(default=90, ge=1)
    # Audit log entries (who read or changed what, when) older than this many years go.
    audit_log_years: int = Field(default=2, ge=1)


class HelpLanguage(_Section):
    """One line of the letters' help box: a language named in its own script."""

    lang: str = Field(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]+)*$")  # BCP 47, e.g. "ar", "ti"
    name: str = Field(min_length=1)  # the language's own name: "العربية", "ትግርኛ", "Suomi"
    text: str = Field(min_length=1)  # "Call us for help in your language:"; the phone follows
    rtl: bool = False  # written right to left (Arabic, Persian, Kurdish Sorani ...)


#: "Important letter. Call us if you need help in your language:" in the languages most
#: often needed by the municipality's tenants. Translations: have them checked by the
#: municipality's interpreters before production (config.toml [[letters.help]]).
DEFAULT_HELP: tuple[dict[str, Any], ...] = (
    {"lang": "ar", "name": "العربية", "rtl": True,
     "text": "هذه رسالة مهمة. اتصل بنا إذا كنت بحاجة إلى مساعدة بلغتك:"},
    {"lang": "so", "name": "Soomaali",
     "text": "Warqad muhiim ah. Na soo wac haddii aad u baahan tahay caawimaad luqaddaada:"},
    {"lang": "ti", "name": "ትግርኛ",
     "text": "እዚ ኣገዳሲ ደብዳቤ እዩ። ብቋንቋኹም ሓገዝ እንተደሊኹም ደውሉልና፦"},
    {"lang": "fa", "name": "فارسی", "rtl": True,
     "text": "این نامه مهمی است. اگر به کمک به زبان خودتان نیاز دارید با ما تماس بگیرید:"},
    {"lang": "en", "name": "English",
     "text": "This is an important letter. Call us if you need help in your language:"},
    {"lang": "fi", "name": "Suomi",
     "text": "Tämä on tärkeä kirje. Soita meille, jos tarvitset apua omalla kielelläsi:"},
    {"lang": "bs", "name": "Bosanski / Hrvatski / Српски",
     "text": "Ovo je važno pismo. Nazovite nas ako trebate pomoć na svom jeziku:"},
    {"lang": "uk", "name": "Українська",
     "text": "Це важливий лист. Зателефонуйте нам, якщо вам потрібна допомога вашою мовою:"},
)  # fmt: skip


class LettersConfig(_Section):
    """What the tenant's letters and emails say beyond the facts of the episode."""

    # The advisor's phone hours, printed next to the number (per letter language).
    phone_hours: dict[str, str] = Field(
        default_factory=lambda: {"sv": "måndag–fredag kl. 9–12", "en": "Monday–Friday 9–12"}
    )
    # The number for urgent matters (an eviction close at hand); empty: municipality.phone.
    urgent_phone: str = ""
    # The help box: its title per letter language and one line per language.
    help_title: dict[str, str] = Field(
        default_factory=lambda: {
            "sv": "Viktigt brev – ring oss om du behöver hjälp på ditt språk",
            "en": "Important letter – call us if you need help in your language",
        }
    )
    help: list[HelpLanguage] = Field(
        default_factory=lambda: [HelpLanguage(**item) for item in DEFAULT_HELP]
    )
    # Attach the letter (PDF) to the tenant's email; the email itself holds the essentials.
    email_attach_pdf: bool = True
    # A letter emailed to an address from the landlord's file (not one the tenant gave the
    # advisor) is also printed and posted: the same letter, one print copy.
    post_when_email_from_landlord: bool = True


class DemoConfig(_Section):
    seed: int = 42
    start_date: date = date(2026, 9, 1)
    days: int = Field(default=63, ge=1, le=400)
    households: int = Field(default=1200, ge=10)
    # Companies that deliver one file per quarter in the demo (the others: every day).
    quarterly_companies: list[str] = Field(default_factory=list)


class Settings(BaseSettings):
    """The whole configuration of one kvarboende installation."""

    model_config = SettingsConfigDict(
        env_prefix="KVARBOENDE_",
        env_nested_delimiter="_",
        env_nested_max_split=1,
        extra="forbid",
        case_sensitive=False,
    )

    database: DatabaseConfig = DatabaseConfig()
    municipality: MunicipalityConfig = MunicipalityConfig()
    paths: PathsConfig = PathsConfig()
    companies: list[CompanyConfig] = Field(default_factory=list)
    advisors: list[AdvisorConfig] = Field(default_factory=list)
    notices: NoticeConfig = NoticeConfig()
    booking: BookingConfig = BookingConfig()
    smtp: SmtpConfig = SmtpConfig()
    reminders: RemindersConfig = RemindersConfig()
    sms: SmsConfig = SmsConfig()
    upload: UploadConfig = UploadConfig()
    web: WebConfig = WebConfig()
    files: FilesConfig = FilesConfig()
    schedules: ScheduleConfig = ScheduleConfig()
    operations: OperationsConfig = OperationsConfig()
    outcomes: OutcomeConfig = OutcomeConfig()
    statistics: StatisticsConfig = StatisticsConfig()
    cases: RegisterConfig = RegisterConfig()
    retention: RetentionConfig = RetentionConfig()
    letters: LettersConfig = LettersConfig()
    demo: DemoConfig = DemoConfig()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Environment first so that it overrides the file, which arrives as init kwargs.
        return (env_settings, init_settings)

    def company(self, company_id: str) -> CompanyConfig:
        """The configured company with this id, or a ConfigError naming the known ones."""
        for company in self.companies:
            if company.id == company_id:
                return company
        known = ", ".join(c.id for c in self.companies) or "none"
        raise ConfigError(f"unknown housing company {company_id!r} (configured: {known})")

    def advisor(self, advisor_id: str | None = None) -> AdvisorConfig:
        """The advisor with this id, or the first one when no id is given."""
        if not self.advisors:
            raise ConfigError("no [[advisors]] configured")
        if advisor_id is None:
            return self.advisors[0]
        for advisor in self.advisors:
            if advisor.id == advisor_id:
                return advisor
        raise ConfigError(f"unknown advisor {advisor_id!r}")

    def resolve_paths(self, base: Path) -> Settings:
        """Make relative paths (and a relative SQLite file) relative to the config file."""
        paths = {
            name: (value if value.is_absolute() else base / value)
            for name, value in self.paths.model_dump().items()
        }
        self.paths = PathsConfig(**paths)
        for company in self.companies:
            inbox = company.inbox or Path(company.id)
            if not inbox.is_absolute():
                inbox = self.paths.inbox_dir / inbox if company.inbox is None else base / inbox
            company.inbox = inbox
        url = self.database.url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith("sqlite:////") and ":memory:" not in url:
            self.database.url = prefix + str((base / url[len(prefix) :]).resolve())
        return self


#: Municipality settings the letters print ("Ring 08-123 456 00 eller läs mer på …").
CONTACT_SETTINGS: tuple[str, ...] = ("phone", "website", "email")


def missing_contact_settings(settings: Settings) -> list[str]:
    """The municipality contact settings the letters use that are empty, as config keys.

    ``["municipality.phone"]`` when the phone is unset: a letter would print "Ring  eller
    läs mer på ." One function, so that ``init``, the daily run and ``doctor`` agree.
    """
    municipality = settings.municipality
    return [
        f"municipality.{name}"
        for name in CONTACT_SETTINGS
        if not str(getattr(municipality, name) or "").strip()
    ]


def require_contact_settings(settings: Settings) -> None:
    """Refuse to go on when a contact setting the letters print is empty (one line)."""
    missing = missing_contact_settings(settings)
    if missing:
        raise ConfigError(
            f"{', '.join(missing)} empty: letters would print a blank where the tenant "
            "is told how to reach the municipality; set it in config.toml"
        )


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Where the configuration lives: the argument, then KVARBOENDE_CONFIG, then ./config.toml."""
    return Path(explicit or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)


def _format_error(path: Path, error: ValidationError) -> str:
    first = error.errors()[0]
    key = ".".join(str(part) for part in first["loc"]) or "(top level)"
    value = first.get("input")
    hidden = isinstance(value, dict | list) or value is None or key.endswith("url")
    shown = "" if hidden else f" (got {value!r})"  # a URL may carry a password
    more = f" and {error.error_count() - 1} more problem(s)" if error.error_count() > 1 else ""
    return f"{path}: {key}: {first['msg']}{shown}{more}"


def load_settings(path: str | os.PathLike[str] | None = None) -> Settings:
    """Read and validate the configuration; raise ConfigError with one clear line."""
    file = config_path(path)
    if not file.exists():
        raise ConfigError(f"configuration file {file} not found (use --config or {CONFIG_ENV})")
    try:
        data: dict[str, Any] = tomllib.loads(file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{file}: not UTF-8 text") from None
    try:
        settings = Settings(**data)
    except ValidationError as exc:
        raise ConfigError(_format_error(file, exc)) from None
    return settings.resolve_paths(file.resolve().parent)
