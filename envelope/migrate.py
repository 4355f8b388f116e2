"""Apply Alembic migrations from code, so `envelope serve` and tests need no alembic.ini."""
from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

import migrations
from envelope.errors import EnvelopeError

SCRIPT_LOCATION = Path(migrations.__file__).parent


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    # ConfigParser interpolation would choke on a '%' in a password.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str) -> None:
    """Bring the database to the newest schema; a no-op when it is current."""
    command.upgrade(alembic_config(database_url), "head")


class NoInstance(EnvelopeError):
    """A command that needs an existing instance found no database."""

    status = 404


def require_instance(database_url: str, data_dir: Path) -> None:
    """NoInstance, naming where it looked, unless `database_url` holds an
    Envelope schema. Creates nothing: connecting to a missing SQLite file
    would create an empty one, and a command run from the wrong folder
    would then work on that empty instance while the server uses another."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        path = url.database or ""
        if path in ("", ":memory:") or Path(path).is_file():
            return
        raise NoInstance(
            f"No Envelope database at {Path(path).resolve()} (data dir {data_dir}): set ENVELOPE_DATA_DIR "
            "to the server's data dir (or DATABASE_URL to its database), or start a new instance with "
            "`envelope serve`."
        )
    shown = url.render_as_string(hide_password=True)
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            found = inspect(connection).has_table("alembic_version") and connection.execute(
                text("SELECT version_num FROM alembic_version")
            ).first() is not None
    except OperationalError as exc:
        raise NoInstance(f"Cannot connect to the database {shown} ({exc.orig}); check DATABASE_URL.") from None
    finally:
        engine.dispose()
    if not found:
        raise NoInstance(
            f"The database {shown} has no Envelope schema: set DATABASE_URL to the server's database, "
            "or create the schema with `envelope migrate`."
        )
