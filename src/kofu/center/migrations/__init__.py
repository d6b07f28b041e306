"""alembic migrations of this service's database; see kofu.migrations."""
