"""Store commands.

python -m backend.store upgrade [--database-url URL]   bring the schema up to date
python -m backend.store seed [seed options]            migrate, then fill with demo data
"""

from __future__ import annotations

import argparse
import sys

from backend.store import seed
from backend.store.db import resolve_url, upgrade_database


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["seed"]:
        return seed.main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m backend.store")
    commands = parser.add_subparsers(dest="command", required=True)
    upgrade = commands.add_parser("upgrade", help="bring the schema up to date")
    upgrade.add_argument("--database-url", default=None, help="default: DATABASE_URL")
    commands.add_parser("seed", help="migrate, then fill with demo data (see seed --help)")
    args = parser.parse_args(argv)
    upgrade_database(args.database_url)
    print(f"Schema up to date: {_shown(resolve_url(args.database_url))}")
    return 0


def _shown(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    sys.exit(main())
