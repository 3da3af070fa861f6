"""scripts/audit.py with the real pip-audit over the real app environment, against an OSV
query endpoint served here (osv.dev itself is out of reach from CI): findings fail unless the
allow-list explains them, a silent service is reported as no audit, and bad entries are refused.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from scripts import audit
from tests.backend.api.conftest import ServerThread, free_port

# What the endpoint knows: (package, version) -> OSV records. httpx at its installed version
# stands for a real finding in the app environment; requests 2.25.0 is the canary.
HTTPX = version("httpx")
KNOWN = {
    ("requests", "2.25.0"): "GHSA-j8r2-6x86-q33q",
    ("httpx", HTTPX): "GHSA-test-httpx-0001",
}


async def query(request: Request) -> JSONResponse:
    body = json.loads(await request.body())
    name, at = body["package"]["name"], body["version"]
    found = KNOWN.get((name, at))
    if found is None:
        return JSONResponse({})
    record = {
        "id": found,
        "aliases": [f"CVE-2099-{len(name)}"],
        "summary": "a test advisory",
        "affected": [
            {
                "package": {"name": name, "ecosystem": "PyPI"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "99"}]}],
            }
        ],
    }
    return JSONResponse({"vulns": [record]})


@pytest.fixture(scope="module")
def osv_url() -> Iterator[str]:
    server = ServerThread(Starlette(routes=[Route("/v1/query", query, methods=["POST"])]))
    server.start()
    yield f"{server.url}/v1/query"
    server.stop()


def allowlist(tmp_path: Path, entries: str) -> Path:
    path = tmp_path / "allow.toml"
    path.write_text(entries, encoding="utf-8")
    return path


HTTPX_ENTRY = """
[[accept]]
id = "CVE-2099-5"
package = "httpx"
environment = "app"
severity = "high"
reason = "the test says this advisory does not apply to the backend"
"""


def test_an_unlisted_finding_fails_and_a_listed_one_passes(
    osv_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AUDIT_OSV_URL", osv_url)
    empty = allowlist(tmp_path, "")
    assert audit.main(["--env", "app", "--allowlist", str(empty)]) == 1
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "UNEXPLAINED" in x)
    assert line.strip().startswith(f"UNEXPLAINED: httpx {HTTPX}: ") and line.endswith("fixed in 99")
    assert "GHSA-test-httpx-0001" in line and "CVE-2099-5" in line
    assert "app: " in out and "1 known vulnerabilities, 0 explained" in out
    listed = allowlist(tmp_path, HTTPX_ENTRY)  # matched by an alias
    assert audit.main(["--env", "app", "--allowlist", str(listed)]) == 0
    assert "1 known vulnerabilities, 1 explained" in capsys.readouterr().out


def test_a_silent_service_means_no_audit_said_aloud(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AUDIT_OSV_URL", f"http://127.0.0.1:{free_port()}/v1/query")
    empty = allowlist(tmp_path, "")
    assert audit.main(["--allowlist", str(empty)]) == 0
    assert "NO AUDIT TOOK PLACE" in capsys.readouterr().out
    monkeypatch.setenv("AUDIT_REQUIRE_SERVICE", "1")
    assert audit.main(["--allowlist", str(empty)]) == 2


@pytest.mark.parametrize(
    ("entry", "complaint"),
    [
        (HTTPX_ENTRY.replace('severity = "high"', 'severity = "urgent"'), "severity"),
        (HTTPX_ENTRY.replace('environment = "app"', 'environment = "web"'), "environment"),
        (HTTPX_ENTRY.replace("the test says this advisory does not apply", "n/a"), "reason"),
        (HTTPX_ENTRY.replace('package = "httpx"\n', ""), "missing package"),
    ],
)
def test_an_entry_without_its_review_is_refused(tmp_path: Path, entry: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        audit.load_allowlist(allowlist(tmp_path, entry))


def test_the_committed_allowlist_is_well_formed() -> None:
    audit.load_allowlist()
