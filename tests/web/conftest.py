"""Portal fixtures: a migrated database (SQLite and PostgreSQL) with accounts per role."""

from __future__ import annotations

import pytest
from portal_helpers import PASSWORD, Portal
from sqlalchemy import Engine

from flows.stages.setup import prepare_database
from models.config import Settings
from models.db import session_scope
from services import users


@pytest.fixture
def portal(db_engine: Engine, settings: Settings) -> Portal:
    prepare_database(db_engine, settings)
    a, b = settings.companies[0].id, settings.companies[1].id
    with session_scope(db_engine) as session:
        users.create_user(session, "bolag-a", PASSWORD, "company", company_id=a)
        users.create_user(session, "bolag-b", PASSWORD, "company", company_id=b)
        users.create_user(session, "admin", PASSWORD, "admin")
        users.create_user(session, "radgivare", PASSWORD, "advisor")
    return Portal(engine=db_engine, settings=settings, company_a=a, company_b=b)
