"""Rasa's production endpoints, generated from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from backend.config import Settings
from scripts.production import (
    REDIS_PASSWORD_VAR,
    TRACKER_PASSWORD_VAR,
    ProductionConfigError,
    secrets_env,
    write_endpoints,
)

PROD = Settings(
    parcelline_mode="production",
    database_url="postgresql+psycopg://carrier:s3cret@db.internal:6543/parcelline",
    redis_url="redis://:r3dis@cache.internal:6380/4",
)


def test_endpoints_use_the_sql_tracker_and_redis_lock_stores(tmp_path: Path) -> None:
    written = write_endpoints(PROD, tmp_path / "endpoints.yml")
    text = written.read_text()
    assert "s3cret" not in text and "r3dis" not in text
    config = yaml.safe_load(text)
    assert config["action_endpoint"] == {"url": "${ACTION_ENDPOINT_URL}"}
    assert config["tracker_store"] == {
        "type": "SQL",
        "dialect": "postgresql",
        "url": "db.internal",
        "port": 6543,
        "db": "parcelline",
        "username": "carrier",
        "password": f"${{{TRACKER_PASSWORD_VAR}}}",
    }
    assert config["lock_store"] | {"password": None} == {
        "type": "redis",
        "url": "cache.internal",
        "port": 6380,
        "db": 4,
        "password": None,
        "use_ssl": False,
        "key_prefix": "parcelline",
    }
    assert secrets_env(PROD) == {TRACKER_PASSWORD_VAR: "s3cret", REDIS_PASSWORD_VAR: "r3dis"}


def test_a_separate_tracker_database(tmp_path: Path) -> None:
    settings = PROD.model_copy(
        update={"tracker_database_url": "postgresql://rasa@127.0.0.1/trackers"}
    )
    config = yaml.safe_load(write_endpoints(settings, tmp_path / "e.yml").read_text())
    assert (config["tracker_store"]["db"], config["tracker_store"]["port"]) == ("trackers", 5432)


@pytest.mark.parametrize(
    ("update", "words"),
    [
        ({"database_url": "sqlite:///var/logistics.db"}, "postgresql"),
        ({"redis_url": "http://127.0.0.1:6379"}, "REDIS_URL"),
    ],
)
def test_settings_that_cannot_work_are_refused(
    tmp_path: Path, update: dict[str, str], words: str
) -> None:
    with pytest.raises(ProductionConfigError, match=words):
        write_endpoints(PROD.model_copy(update=update), tmp_path / "e.yml")
    assert not (tmp_path / "e.yml").exists()
