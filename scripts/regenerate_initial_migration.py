"""Regenerate models/migrations/versions/0001_initial.py from models/tables.py.

Used only while the schema has never been released (no production database
exists yet). Once a release is out, add new revisions instead.
"""

import tempfile
from pathlib import Path

from alembic import command

from models.db import MIGRATIONS, alembic_config, make_engine

target = MIGRATIONS / "versions" / "0001_initial.py"
target.unlink(missing_ok=True)
with tempfile.TemporaryDirectory() as tmp:
    engine = make_engine(f"sqlite:///{Path(tmp) / 'empty.db'}")
    command.revision(
        alembic_config(engine), message="initial schema", autogenerate=True, rev_id="0001"
    )
generated = next((MIGRATIONS / "versions").glob("0001_*.py"))
generated.rename(target)
print(f"wrote {target}")
