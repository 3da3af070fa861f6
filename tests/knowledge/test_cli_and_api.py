"""The two ways in from outside: `python -m knowledge search ... --json` and the HTTP endpoint."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from backend.api.main import create_app
from backend.config import Settings

ROOT = Path(__file__).resolve().parents[2]
HIT_FIELDS = {"id", "topic", "title", "score", "text"}


def run_cli(*args: str, index_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KNOWLEDGE_INDEX_DIR": str(index_dir), "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "knowledge", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_prints_ranked_hits_as_json(index_dir: Path) -> None:
    done = run_cli("search", "can the recipient pay on delivery", "--json", index_dir=index_dir)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["confident"] is True and result["reason"] == "answer"
    assert len(result["hits"]) == 5
    assert set(result["hits"][0]) == HIT_FIELDS
    assert result["hits"][0]["id"] == "cod-how-it-works"


def test_cli_k_and_ranker(index_dir: Path) -> None:
    done = run_cli(
        "search", "COD fee", "--k", "2", "--ranker", "lexical", "--json", index_dir=index_dir
    )
    result = json.loads(done.stdout)
    assert result["ranker"] == "lexical" and len(result["hits"]) == 2


def test_cli_build_reports_an_up_to_date_index(index_dir: Path) -> None:
    done = run_cli("build", index_dir=index_dir)
    assert done.returncode == 0, done.stderr
    assert "up to date" in done.stdout


@pytest.fixture
def client(use_index: Path, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'store.db'}")
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def test_endpoint_serves_the_same_ranking(client: TestClient, index_dir: Path) -> None:
    response = client.get("/api/knowledge/search", params={"q": "what is volumetric weight"})
    assert response.status_code == 200
    body = response.json()
    assert body["confident"] and len(body["hits"]) == 5
    assert set(body["hits"][0]) == HIT_FIELDS
    cli = json.loads(
        run_cli("search", "what is volumetric weight", "--json", index_dir=index_dir).stdout
    )
    assert [h["id"] for h in body["hits"]] == [h["id"] for h in cli["hits"]]


def test_endpoint_k(client: TestClient) -> None:
    response = client.get("/api/knowledge/search", params={"q": "returns", "k": 2})
    assert len(response.json()["hits"]) == 2
    assert client.get("/api/knowledge/search", params={"q": "x", "k": 0}).status_code == 422
    assert client.get("/api/knowledge/search", params={"q": "x", "k": 21}).status_code == 422


def test_endpoint_low_score_and_empty(client: TestClient) -> None:
    unsure = client.get("/api/knowledge/search", params={"q": "best pizza in town"}).json()
    assert unsure["confident"] is False and unsure["reason"] == "low_score"
    empty = client.get("/api/knowledge/search", params={"q": ""}).json()
    assert empty == {
        "query": "",
        "confident": False,
        "reason": "empty",
        "ranker": "fused",
        "hits": [],
    }


def test_endpoint_long_and_non_english_queries(client: TestClient) -> None:
    long_query = ("can I change the delivery address " * 400)[:10_000]
    response = client.get("/api/knowledge/search", params={"q": long_query})
    assert response.status_code == 200 and response.json()["hits"]
    too_long = client.get("/api/knowledge/search", params={"q": "a" * 10_001})
    assert too_long.status_code == 422
    foreign = client.get("/api/knowledge/search", params={"q": "wo ist mein Paket"}).json()
    assert foreign["reason"] == "not_english" and foreign["hits"] == []
