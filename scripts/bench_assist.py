"""Time the call assist end to end: the real backend, Rasa server and action server on free
ports, a seeded store, and POST /api/agent/assist as the console sends it on each pause in
typing (Rasa's NLU over HTTP, the store, the knowledge index).

    python -m scripts.bench_assist [--runs 20]

Prints the median, 95th percentile and slowest answer per kind of text. The target is a
fraction of a second (TARGET_MS at the 95th percentile) once the index is loaded.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlmodel import Session

from backend.config import Settings
from backend.crm.recompute import recompute_all
from backend.store.db import get_engine
from backend.store.seed import example_numbers, seed_database
from scripts.stack import Ports, Stack
from scripts.train import train

TARGET_MS = 500.0


def texts(numbers: dict[str, str]) -> dict[str, str]:
    return {
        "parcel question": f"where is my parcel {numbers['in transit']}",
        "complaint": f"my parcel {numbers['damaged']} arrived crushed",
        "service question": "how long do I have to report a damaged parcel",
        "address change": "can you deliver it to my office instead",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-assist-"))
    url = f"sqlite:///{folder / 'store.db'}"
    seed_database(url, customers=600, shipments=24_000, seed=11, echo=lambda _: None)
    recompute_all(get_engine(url))
    with Session(get_engine(url)) as session:
        numbers = example_numbers(session)
    stack = Stack(model=train(), database_url=url, ports=Ports.free(), log_dir=folder)
    stack.start(timeout=300)
    try:
        settings = Settings()
        with httpx.Client(base_url=stack.backend_url, timeout=30) as client:
            login = client.post(
                "/api/agent/login",
                json={
                    "username": settings.demo_agent_username,
                    "password": settings.demo_agent_password,
                },
            )
            login.raise_for_status()
            headers = {"Authorization": f"Bearer {login.json()['token']}"}
            client.post("/api/agent/assist", json={"text": "warm up"}, headers=headers)
            print(f"{'text':<18} {'median ms':>10} {'p95 ms':>8} {'max ms':>8}")
            worst = 0.0
            for kind, text in texts(numbers).items():
                timings = []
                for _ in range(args.runs):
                    started = time.perf_counter()
                    response = client.post(
                        "/api/agent/assist", json={"text": text}, headers=headers
                    )
                    timings.append((time.perf_counter() - started) * 1000)
                    response.raise_for_status()
                timings.sort()
                p95 = timings[max(0, round(0.95 * len(timings)) - 1)]
                worst = max(worst, p95)
                median = statistics.median(timings)
                print(f"{kind:<18} {median:>10.0f} {p95:>8.0f} {timings[-1]:>8.0f}")
        print(f"target: p95 under {TARGET_MS:.0f} ms: {'met' if worst < TARGET_MS else 'NOT met'}")
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
