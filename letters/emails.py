"""Email subjects and bodies from Jinja2 templates in ``letters/templates/email``.

A template's first line is the subject, then a line ``---``, then the plain-text body.
Staff emails (``caseworker_notice``) carry counts and where to look, never personal data.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateNotFound

EMAIL_DIR = Path(__file__).parent / "templates" / "email"


@lru_cache(maxsize=1)
def _environment() -> Environment:
    # Plain text, no HTML: autoescape off; StrictUndefined so a missing value fails loudly.
    return Environment(
        loader=FileSystemLoader(str(EMAIL_DIR)),
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
    )


def render_email(name: str, language: str, **context: Any) -> tuple[str, str]:
    """(subject, body) of the email template ``name`` in ``language`` (Swedish fallback)."""
    environment = _environment()
    try:
        template = environment.get_template(f"{name}.{language}.txt.j2")
    except TemplateNotFound:
        template = environment.get_template(f"{name}.sv.txt.j2")
    text = template.render(**context)
    subject, _, body = text.partition("\n---\n")
    return subject.strip(), body.strip() + "\n"
