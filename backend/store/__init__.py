"""The customer store: SQLModel tables, sessions, migrations, queries and demo data."""
