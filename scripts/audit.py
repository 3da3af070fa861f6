"""Known vulnerabilities in both environments (pip-audit), against a reviewed allow-list.

    python -m scripts.audit            # both environments; what `make test` runs
    python -m scripts.audit --env rasa

Each environment's installed packages (its site-packages, whatever its Python) are checked by
pip-audit against PyPI's vulnerability data. A finding passes only when
requirements/audit-allowlist.toml lists its id (or one of its aliases) for that package, with
its severity and why it does not apply here; any other finding fails the step, whatever its
severity (pip-audit reports none), so no high-severity one can pass unexplained.

The vulnerability service is first asked about a release known to be vulnerable (the canary).
If that comes back clean or fails, the service is not answering truthfully from this network:
pip-audit would report every package as "not found" and print "No known vulnerabilities
found". The step then says loudly that no audit took place and passes, unless
AUDIT_REQUIRE_SERVICE=1, when it fails. AUDIT_OSV_URL points pip-audit at an OSV query endpoint
(a mirror of osv.dev's `/v1/query`) instead of PyPI.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scripts.paths import APP_VENV, RASA_VENV, ROOT

ALLOWLIST = ROOT / "requirements" / "audit-allowlist.toml"
ENVIRONMENTS = {"app": APP_VENV, "rasa": RASA_VENV}
SEVERITIES = ("low", "moderate", "high", "critical")
# requests 2.25.0 has CVE-2023-32681 (fixed in 2.31.0): an honest service always reports it.
CANARY = "requests==2.25.0"
PIP_AUDIT = Path(sys.executable).parent / "pip-audit"


@dataclass(frozen=True)
class Accepted:
    id: str
    package: str
    environment: str
    severity: str
    reason: str


@dataclass(frozen=True)
class Finding:
    package: str
    version: str
    id: str
    aliases: tuple[str, ...]
    fix_versions: tuple[str, ...]

    def names(self) -> set[str]:
        return {self.id, *self.aliases}

    def __str__(self) -> str:
        fix = f"fixed in {', '.join(self.fix_versions)}" if self.fix_versions else "no fix yet"
        aliases = f" ({', '.join(self.aliases)})" if self.aliases else ""
        return f"{self.package} {self.version}: {self.id}{aliases}, {fix}"


def load_allowlist(path: Path = ALLOWLIST) -> list[Accepted]:
    """The reviewed entries; a malformed entry is an error, not something to skip."""
    entries = tomllib.loads(path.read_text(encoding="utf-8")).get("accept", [])
    accepted = []
    for number, entry in enumerate(entries, 1):
        missing = {"id", "package", "environment", "severity", "reason"} - set(entry)
        if missing:
            raise ValueError(f"{path.name} entry {number}: missing {', '.join(sorted(missing))}")
        if entry["severity"] not in SEVERITIES:
            raise ValueError(f"{path.name} entry {number}: severity is one of {SEVERITIES}")
        if entry["environment"] not in ENVIRONMENTS:
            raise ValueError(f"{path.name} entry {number}: environment is app or rasa")
        if len(entry["reason"].split()) < 5:
            raise ValueError(f"{path.name} entry {number}: the reason must say why, in words")
        accepted.append(Accepted(**{k: str(entry[k]) for k in Accepted.__dataclass_fields__}))
    return accepted


def parse_report(report: dict[str, Any]) -> tuple[list[Finding], list[str]]:
    """pip-audit's JSON: the findings, and the packages it could not check (with why)."""
    findings, skipped = [], []
    for dependency in report.get("dependencies", []):
        if "skip_reason" in dependency:
            skipped.append(f"{dependency['name']}: {dependency['skip_reason']}")
        for vuln in dependency.get("vulns", []):
            findings.append(
                Finding(
                    package=dependency["name"],
                    version=dependency.get("version", "?"),
                    id=vuln["id"],
                    aliases=tuple(vuln.get("aliases", [])),
                    fix_versions=tuple(vuln.get("fix_versions", [])),
                )
            )
    return findings, skipped


def unexplained(
    findings: list[Finding], accepted: list[Accepted], environment: str
) -> tuple[list[Finding], list[Accepted]]:
    """Findings no entry explains, and entries that explain nothing any more (stale)."""
    mine = [a for a in accepted if a.environment == environment]
    used: set[Accepted] = set()
    left = []
    for finding in findings:
        match = [
            a
            for a in mine
            if a.id in finding.names() and a.package.lower() == finding.package.lower()
        ]
        used.update(match)
        if not match:
            left.append(finding)
    return left, [a for a in mine if a not in used]


def service_args() -> list[str]:
    osv = os.environ.get("AUDIT_OSV_URL", "")
    return ["-s", "osv", "--osv-url", osv] if osv else ["-s", "pypi"]


def run_pip_audit(args: list[str]) -> dict[str, Any]:
    """pip-audit's JSON report; RuntimeError with its own words when it could not produce one."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "report.json"
        command = [str(PIP_AUDIT), *service_args(), *args, "-f", "json", "-o", str(out)]
        done = subprocess.run(
            [*command, "--progress-spinner", "off"],
            capture_output=True,
            text=True,
            check=False,
        )
        if not out.exists() or not out.read_text().strip():
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise RuntimeError(f"pip-audit exited {done.returncode}: {last}")
        return json.loads(out.read_text())


def service_answers() -> str | None:
    """None when the vulnerability service reports the canary's known vulnerability; else why
    it cannot be trusted from here."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as requirements:
        requirements.write(CANARY + "\n")
    try:
        findings, skipped = parse_report(
            run_pip_audit(["-r", requirements.name, "--no-deps", "--disable-pip"])
        )
    except RuntimeError as failed:
        return str(failed)
    finally:
        os.unlink(requirements.name)
    if findings:
        return None
    return skipped[0] if skipped else f"{CANARY} came back with no known vulnerability"


def site_packages(venv: Path) -> Path:
    python = venv / "bin" / "python"
    done = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(done.stdout.strip())


def audit(environment: str, accepted: list[Accepted], allowlist: Path) -> bool:
    """Print the environment's findings; False when one is not explained."""
    report = run_pip_audit(["--path", str(site_packages(ENVIRONMENTS[environment]))])
    findings, skipped = parse_report(report)
    left, stale = unexplained(findings, accepted, environment)
    checked = len(report.get("dependencies", [])) - len(skipped)
    print(
        f"  {environment}: {checked} packages checked, {len(findings)} known vulnerabilities, "
        f"{len(findings) - len(left)} explained in {allowlist.name}"
    )
    for line in skipped:
        print(f"    not checked: {line}")
    for entry in stale:
        print(f"    stale allow-list entry (no longer found): {entry.package} {entry.id}")
    for finding in left:
        print(f"    UNEXPLAINED: {finding}")
    return not left


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", choices=sorted(ENVIRONMENTS), action="append")
    parser.add_argument("--allowlist", type=Path, default=ALLOWLIST)
    args = parser.parse_args(argv)
    accepted = load_allowlist(args.allowlist)
    problem = service_answers()
    if problem is not None:
        service = os.environ.get("AUDIT_OSV_URL") or "PyPI's JSON API"
        print(
            f"  WARNING: the vulnerability service ({service}) did not answer truthfully from "
            f"this network, so NO AUDIT TOOK PLACE: {problem}"
        )
        if os.environ.get("AUDIT_REQUIRE_SERVICE") == "1":
            print("  FAILED: AUDIT_REQUIRE_SERVICE=1 and the audit could not run")
            return 2
        return 0
    results = [audit(env, accepted, args.allowlist) for env in args.env or sorted(ENVIRONMENTS)]
    if not all(results):
        print(
            "  FAILED: upgrade each UNEXPLAINED package where compatible, or list the "
            f"vulnerability in {args.allowlist.name} with its severity and reason"
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
