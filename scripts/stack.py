"""Start, watch and stop the three processes: action server, Rasa server, backend.

In production mode there are more: one action server per Rasa server ("actions2", ...,
ACTION_SERVER_COUNT), several Rasa servers ("rasa2", ..., RASA_SERVER_COUNT) and a backend of
BACKEND_WORKERS uvicorn workers on one port.

``python -m scripts.stack run`` is what ``make run`` calls; tests use :class:`Stack`
directly to run the same processes on free ports against a temporary store.
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import httpx

from scripts.paths import APP_PYTHON, LOG_DIR, RASA_PYTHON, ROOT
from scripts.train import rasa_env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Ports:
    actions: int = 5055
    rasa: int = 5005
    backend: int = 8000

    @classmethod
    def free(cls) -> Ports:
        return cls(free_port(), free_port(), free_port())


@dataclass
class Stack:
    model: Path
    database_url: str
    ports: Ports = field(default_factory=Ports)
    log_dir: Path = LOG_DIR
    backend_host: str = "127.0.0.1"
    callback_secret: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    # Token of Rasa's HTTP API, which the backend uses to start proactive surveys.
    api_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    # Extra environment for the three processes (tests set limits this way).
    env: dict[str, str] = field(default_factory=dict)
    # Production mode: ports of Rasa servers beyond the first ("rasa2", "rasa3", ...), Rasa's
    # endpoints file, and environment for the Rasa servers only (the tracker store's password).
    extra_rasa_ports: list[int] = field(default_factory=list)
    # Ports of action servers beyond the first ("actions2", ...): Rasa server i calls action
    # server i (round robin when there are fewer action servers than Rasa servers).
    extra_action_ports: list[int] = field(default_factory=list)
    # Uvicorn workers of the backend on its one port (more than one needs the gateway's state in
    # Redis: production mode or GATEWAY_STATE=redis).
    backend_workers: int = 1
    endpoints: str = "endpoints.yml"
    rasa_env: dict[str, str] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def backend_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.backend}"

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.rasa}"

    @property
    def rasa_ports(self) -> dict[str, int]:
        """Rasa's processes by name: "rasa", then "rasa2", "rasa3", ..."""
        ports = {"rasa": self.ports.rasa}
        ports.update({f"rasa{n}": p for n, p in enumerate(self.extra_rasa_ports, start=2)})
        return ports

    @property
    def rasa_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.rasa_ports.values()]

    @property
    def actions_url(self) -> str:
        return f"http://127.0.0.1:{self.ports.actions}"

    @property
    def action_ports(self) -> dict[str, int]:
        """Action servers by name: "actions", then "actions2", "actions3", ..."""
        ports = {"actions": self.ports.actions}
        ports.update({f"actions{n}": p for n, p in enumerate(self.extra_action_ports, start=2)})
        return ports

    def action_endpoint_for(self, rasa_name: str) -> str:
        """The action server a Rasa server calls (Rasa's action endpoint is one URL)."""
        ports = list(self.action_ports.values())
        index = list(self.rasa_ports).index(rasa_name) % len(ports)
        return f"http://127.0.0.1:{ports[index]}/webhook"

    def _env(self) -> dict[str, str]:
        env = rasa_env()
        env.update(
            {
                "DATABASE_URL": self.database_url,
                "ACTION_ENDPOINT_URL": f"{self.actions_url}/webhook",
                "RASA_URL": self.rasa_url,
                "RASA_SERVERS": ",".join(self.rasa_urls),
                "RASA_CALLBACK_SECRET": self.callback_secret,
                "RASA_CALLBACK_URL": f"{self.backend_url}/rasa/callback/{self.callback_secret}",
                "RASA_API_TOKEN": self.api_token,
                "HF_HUB_OFFLINE": "1",
                "PYTHONUNBUFFERED": "1",
                "KNOWLEDGE_PRELOAD": "1",
            }
        )
        env.update(self.env)
        return env

    def _env_for(self, name: str) -> dict[str, str]:
        env = self._env()
        if name.startswith("actions"):
            # Only the Rasa servers call the action server: no other interface may reach it.
            env["SANIC_HOST"] = "127.0.0.1"
        if name.startswith("rasa"):
            env.update(self.rasa_env)
            env["ACTION_ENDPOINT_URL"] = self.action_endpoint_for(name)
        return env

    def credentials(self, role: Literal["agent", "manager"] = "agent") -> tuple[str, str]:
        """Username and password of the demo agent (or manager) the backend creates: what the
        backend's environment sets, else the built-in demo values (production mode refuses
        those, so production stacks set their own)."""
        from backend.config import Settings

        env = self._env_for("backend")
        defaults = Settings.model_fields
        return (
            env.get(f"DEMO_{role.upper()}_USERNAME", defaults[f"demo_{role}_username"].default),
            env.get(f"DEMO_{role.upper()}_PASSWORD", defaults[f"demo_{role}_password"].default),
        )

    def commands(self) -> dict[str, list[str]]:
        rasa = {
            name: [
                str(RASA_PYTHON),
                str(ROOT / "scripts" / "rasa_server.py"),
                "run",
                "--model",
                str(self.model),
                "--interface",
                "127.0.0.1",
                "--port",
                str(port),
                "--credentials",
                "credentials.yml",
                "--endpoints",
                self.endpoints,
                # "=" form: a generated token may start with "-", which argparse would misread.
                "--enable-api",
                f"--auth-token={self.api_token}",
            ]
            for name, port in self.rasa_ports.items()
        }
        actions = {
            name: [
                str(APP_PYTHON), "-m", "rasa_sdk", "--actions", "actions", "--port", str(port),
            ]
            for name, port in self.action_ports.items()
        }  # fmt: skip
        return {
            **actions,
            **rasa,
            "backend": [
                str(APP_PYTHON), "-m", "uvicorn", "backend.api.main:app",
                "--host", self.backend_host, "--port", str(self.ports.backend),
                "--workers", str(self.backend_workers),
            ],
        }  # fmt: skip

    def health_urls(self) -> dict[str, str]:
        return {
            **{name: f"http://127.0.0.1:{port}/health" for name, port in self.action_ports.items()},
            **{name: f"http://127.0.0.1:{port}/" for name, port in self.rasa_ports.items()},
            "backend": f"{self.backend_url}/health/live",
        }

    def start(self, timeout: float = 240.0, progress: bool = False) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        use_write_ahead_log(self.database_url)
        for name in self.commands():
            self._launch(name)
            if progress:
                print(f"  started {name:<8} (log: {self.log_dir / (name + '.log')})", flush=True)
        try:
            self.wait_until_ready(timeout, progress)
        except BaseException:
            self.stop()
            raise

    def _launch(self, name: str) -> None:
        log = (self.log_dir / f"{name}.log").open("ab")
        # A session of its own per process, so stopping reaches its children too.
        self.processes[name] = subprocess.Popen(
            self.commands()[name], cwd=ROOT, env=self._env_for(name), stdout=log,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip

    def kill(self, name: str) -> None:
        """Stop one service abruptly (fault tests)."""
        proc = self.processes[name]
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def restart(self, name: str, timeout: float = 240.0) -> None:
        self.restart_together([name], timeout)

    def restart_together(self, names: list[str], timeout: float = 240.0) -> None:
        """Restart several services, starting in parallel (fault tests)."""
        for name in names:
            self.kill(name)
            self._launch(name)
        self.wait_until_ready(timeout, progress=False, only=names)

    def wait_until_ready(
        self, timeout: float, progress: bool, only: list[str] | None = None
    ) -> None:
        deadline = time.monotonic() + timeout
        pending = {n: u for n, u in self.health_urls().items() if only is None or n in only}
        started = time.monotonic()
        with httpx.Client(timeout=2.0) as client:
            while pending:
                for name, url in list(pending.items()):
                    proc = self.processes[name]
                    if proc.poll() is not None:
                        raise RuntimeError(
                            f"{name} exited with code {proc.returncode}; "
                            f"see {self.log_dir / (name + '.log')}"
                        )
                    try:
                        if client.get(url).status_code == 200:
                            del pending[name]
                            if progress:
                                elapsed = time.monotonic() - started
                                print(f"  {name:<8} ready after {elapsed:.0f} s", flush=True)
                    except httpx.HTTPError:
                        pass
                if pending and time.monotonic() > deadline:
                    raise TimeoutError(f"not ready after {timeout:.0f} s: {', '.join(pending)}")
                if pending:
                    time.sleep(0.5)

    def stop(self, grace: float = 10.0) -> None:
        for proc in self.processes.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in self.processes.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.processes.clear()

    def first_exited(self) -> str | None:
        return next((n for n, p in self.processes.items() if p.poll() is not None), None)


def use_write_ahead_log(database_url: str) -> None:
    """Put a SQLite store in write-ahead-log mode (kept in the file). The backend and the
    action server write transcripts, tickets and answers from separate processes: with the
    default rollback journal every reader waited for each writer's commit and its syncs (most of
    the backend's time under load); with the log, readers never wait and a commit is one sync."""
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return
    with closing(sqlite3.connect(url.database)) as connection:
        connection.execute("PRAGMA journal_mode=WAL")


def prepare_store(database_url: str) -> None:
    """Migrate and seed the store (idempotent), then compute the CRM figures the bot uses."""
    env = {**os.environ, "DATABASE_URL": database_url}
    for module in ("backend.store.seed", "backend.crm"):
        command = [str(APP_PYTHON), "-m", module]
        if module == "backend.crm":
            command.append("recompute")
        command += ["--database-url", database_url]
        subprocess.run(command, cwd=ROOT, check=True, env=env)


def migrate_store(database_url: str) -> None:
    """Production: bring the schema up to date (Alembic), without demo data."""
    command = [str(APP_PYTHON), "-m", "backend.store", "upgrade", "--database-url", database_url]
    subprocess.run(command, cwd=ROOT, check=True, env={**os.environ, "DATABASE_URL": database_url})


def prepare_knowledge() -> None:
    """Build the knowledge index when the knowledge files changed (progress on the terminal)."""
    subprocess.run([str(APP_PYTHON), "-m", "knowledge", "build"], cwd=ROOT, check=True)


def run(args: argparse.Namespace) -> int:
    from backend.api.conversation_bus import uses_redis
    from backend.config import get_settings
    from scripts import postgres_admin
    from scripts.production import ProductionConfigError, secrets_env, write_endpoints
    from scripts.train import train

    settings = get_settings()
    database_url = settings.database_url
    started = time.monotonic()
    production: dict[str, object] = {}
    if settings.production:
        try:
            endpoints = write_endpoints(settings)
        except ProductionConfigError as exc:
            print(f"production mode: {exc}", file=sys.stderr)
            return 2
        action_servers = min(args.action_servers or args.rasa_servers, args.rasa_servers)
        production = {
            "endpoints": str(endpoints),
            "rasa_env": secrets_env(settings),
            "extra_rasa_ports": [args.rasa_port + n for n in range(1, args.rasa_servers)],
            "extra_action_ports": [args.actions_port + n for n in range(1, action_servers)],
            "backend_workers": args.backend_workers or 2,
        }
        print(
            f"production mode: {args.rasa_servers} Rasa servers, {action_servers} action "
            f"servers, {production['backend_workers']} backend workers, endpoints {endpoints}"
        )
    elif (args.backend_workers or 1) > 1 and not uses_redis(settings):
        print("BACKEND_WORKERS > 1 needs GATEWAY_STATE=redis (or production mode)", file=sys.stderr)
        return 2
    else:
        production = {"backend_workers": args.backend_workers or 1}
    print("[1/4] customer store", flush=True)
    problem = postgres_admin.ensure(database_url)
    if problem:
        print(f"customer store: {problem} (DATABASE_URL)", file=sys.stderr)
        return 2
    if settings.production and not args.demo_data:
        migrate_store(database_url)
    else:
        prepare_store(database_url)
    print("[2/4] knowledge index", flush=True)
    prepare_knowledge()
    print("[3/4] Rasa model", flush=True)
    model = train()
    print("[4/4] starting services", flush=True)
    ports = Ports(args.actions_port, args.rasa_port, args.backend_port)
    stack = Stack(
        model=model,
        database_url=database_url,
        ports=ports,
        backend_host=args.host,
        **production,  # type: ignore[arg-type]
    )

    def on_signal(signum: int, _frame: object) -> None:
        # Ctrl-C and SIGTERM alike, even where a parent shell set SIGINT to be ignored.
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        stack.start(progress=True)
        print(
            f"\nReady in {time.monotonic() - started:.0f} s. Open {stack.backend_url}/ "
            f"(API docs: {stack.backend_url}/docs). Press Ctrl-C to stop.\n",
            flush=True,
        )
        # Production mode ignores the published demo passwords (backend/config.py).
        agent_password = settings.secret("demo_agent_password") or "(not created: set one)"
        manager_password = settings.secret("demo_manager_password") or "(not created: set one)"
        print(
            f"Agent console: {stack.backend_url}/agent\n"
            f"  demo agent   {settings.demo_agent_username} / {agent_password}"
            "  (DEMO_AGENT_USERNAME / DEMO_AGENT_PASSWORD)\n"
            f"  demo manager {settings.demo_manager_username} / {manager_password}"
            "  (DEMO_MANAGER_USERNAME / DEMO_MANAGER_PASSWORD; also opens /crm)\n",
            flush=True,
        )
        while True:
            crashed = stack.first_exited()
            if crashed:
                print(f"{crashed} stopped unexpectedly; see {LOG_DIR / (crashed + '.log')}")
                return 1
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        print("stopping services ...", flush=True)
        stack.stop()
        print("stopped.")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    run_parser = sub.add_parser("run", help="prepare everything and run the three services")
    run_parser.add_argument("--host", default=os.environ.get("BACKEND_HOST", "127.0.0.1"))
    run_parser.add_argument(
        "--backend-port", type=int, default=int(os.environ.get("BACKEND_PORT", 8000))
    )
    run_parser.add_argument("--rasa-port", type=int, default=int(os.environ.get("RASA_PORT", 5005)))
    run_parser.add_argument(
        "--actions-port", type=int, default=int(os.environ.get("ACTIONS_PORT", 5055))
    )
    run_parser.add_argument(
        "--rasa-servers",
        type=int,
        default=int(os.environ.get("RASA_SERVER_COUNT", 2)),
        help="production mode: Rasa servers on consecutive ports from --rasa-port",
    )
    run_parser.add_argument(
        "--action-servers",
        type=int,
        default=int(os.environ.get("ACTION_SERVER_COUNT") or 0),
        help="production mode: action servers on consecutive ports from --actions-port, "
        "Rasa server i calling action server i (default: one per Rasa server)",
    )
    run_parser.add_argument(
        "--backend-workers",
        type=int,
        default=int(os.environ.get("BACKEND_WORKERS") or 0),
        help="uvicorn workers of the backend (default: 2 in production mode, else 1)",
    )
    run_parser.add_argument(
        "--demo-data",
        action="store_true",
        default=os.environ.get("DEMO_DATA", "") == "1",
        help="production mode: also seed demo customers and shipments (DEMO_DATA=1)",
    )
    args = parser.parse_args()
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
