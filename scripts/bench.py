"""Load the whole stack the way shippers do, and print how fast it answers.

    python -m scripts.bench [--quick] [--phase-seconds 40] [--time-training] [--profile DIR]

Starts the action server, Rasa and the backend on free ports against a freshly seeded
temporary store (as `make run` prepares one), with the chat rate limits off for the bench's
own traffic. Simulated shippers talk to the backend over the widget's WebSocket
(/api/chat/ws, one socket per conversation) with a mixed workload: tracking look-ups,
knowledge questions, complaint forms, survey answers and small talk. Two load shapes:
conversational (about 2 s between a shipper's messages, 32 conversations at once) and
saturation (no pauses; 8 and 32 conversations). Prints per turn type p50/p95/p99, sustained
turns per second, errors, each service's CPU milliseconds per turn, the peak resident memory
of every process (children included), the speed and memory targets and the ratio to the
committed baseline (scripts/bench_baseline.json).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import websockets
from sqlmodel import Session, col, select

from backend.crm.recompute import recompute_all
from backend.store.db import get_engine
from backend.store.models import Shipment, ShipmentStatus
from backend.store.seed import example_numbers, seed_database
from backend.surveys.models import SurveyInvitation, SurveyKind
from knowledge import index as kindex
from scripts.paths import ROOT
from scripts.stack import Ports, Stack
from scripts.train import model_path, train, training_record

BASELINE = ROOT / "scripts" / "bench_baseline.json"
APOLOGY = "having trouble answering"
REFERENCE = re.compile(r"\bC-\d{2}-\d{5}\b")
# The targets: p95 per turn type at 32 conversational shippers, saturation throughput,
# errors and memory.
P95_TARGET_MS = {"tracking": 150.0, "knowledge": 200.0}
TURNS_PER_S_TARGET = 30.0
RSS_TARGET_MB = 2500.0
TURN_TYPES = ("tracking", "knowledge", "complaint", "survey", "small talk")

KNOWLEDGE_QUESTIONS = (
    "how many days do I have to report damage?",
    "how long does a pickup point keep my parcel",
    "can I send batteries",
    "what happens if I'm not home when you deliver",
    "how do I make a claim for a lost parcel",
    "do you deliver on sundays",
)
SMALL_TALK = ("hi", "hello there", "thanks!", "are you a bot?", "thank you, bye", "good morning")


# The fields of a message frame, where a turn is more than typed text (a survey link).
Fields = dict[str, str]
# (turn type, typed text or message fields, text expected in the reply, lower case or "").
Step = tuple[str, str | Fields, str]


@dataclass
class Pools:
    """Parcels from the seeded store for each kind of conversation."""

    tracking: list[str]
    damaged: list[tuple[str, float]]
    survey_tokens: list[str]

    def take_token(self) -> str | None:
        return self.survey_tokens.pop() if self.survey_tokens else None


@dataclass
class Results:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    # Errors: an apology, an error frame, a failed or timed-out socket (the zero target).
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    # Wrong answers: a reply without what the turn expects (the NLU took another path); counted
    # apart, as a matter of understanding, not of speed; the conversation ends there.
    wrong: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    samples: list[str] = field(default_factory=list)
    turns: int = 0
    seconds: float = 0.0

    def error(self, kind: str, detail: str, wrong: bool = False) -> None:
        (self.wrong if wrong else self.errors)[kind] += 1
        if len(self.samples) < 6:
            label = "wrong answer" if wrong else "error"
            self.samples.append(f"{label}, {kind}: {detail[:240]}")


@dataclass
class Transcript:
    """What one simulated conversation saw: its id, the reply to each turn that went as
    expected, and whether every turn did."""

    conversation_id: str = ""
    replies: list[str] = field(default_factory=list)
    finished: bool = False


class Shipper:
    """One conversation over the widget's WebSocket: send a message, wait for its reply."""

    def __init__(self, url: str, results: Results, pause: float, rng: random.Random) -> None:
        self.url, self.results, self.pause, self.rng = url, results, pause, rng
        self.refs = itertools.count(1)

    async def conversation(self, script: list[Step]) -> Transcript:
        """`script`: (turn type, message, text expected in the reply, lower case or "")."""
        kind = script[0][0]
        transcript = Transcript()
        try:
            async with websockets.connect(self.url, open_timeout=30) as socket:
                ready = json.loads(await asyncio.wait_for(socket.recv(), 30))
                if ready.get("type") != "ready":
                    self.results.error(kind, f"no ready frame: {ready}")
                    return transcript
                transcript.conversation_id = str(ready.get("conversation_id") or "")
                for turn, text, expected in script:
                    if self.pause:
                        await asyncio.sleep(self.rng.uniform(0.75, 1.25) * self.pause)
                    said = await self.turn(socket, turn, text, expected)
                    if said is None:
                        return transcript  # the rest of a form makes no sense after a miss
                    transcript.replies.append(said)
                transcript.finished = True
        except (OSError, TimeoutError, websockets.WebSocketException) as exc:
            self.results.error(kind, f"{type(exc).__name__}: {exc}")
        return transcript

    async def turn(
        self, socket: websockets.ClientConnection, kind: str, text: str | Fields, want: str
    ) -> str | None:
        """The reply's text, or None when it was an error or not what the turn expects."""
        ref = next(self.refs)
        started = time.perf_counter()
        fields = {"text": text} if isinstance(text, str) else text
        await socket.send(json.dumps({"type": "message", **fields, "ref": ref}))
        while True:
            frame = json.loads(await asyncio.wait_for(socket.recv(), 60))
            if frame.get("type") == "error":
                self.results.error(kind, f"{text!r} -> error frame {frame}")
                return None
            if frame.get("type") == "reply" and frame.get("ref") == ref:
                break
        elapsed = (time.perf_counter() - started) * 1000
        said = "\n".join(str(m.get("text") or "") for m in frame.get("messages") or [])
        self.results.turns += 1
        self.results.latencies[kind].append(elapsed)
        if APOLOGY in said or not said:
            self.results.error(kind, f"{text!r} -> {said!r}")
            return None
        if want and want not in said.lower():
            self.results.error(kind, f"{text!r} -> {said!r} (expected {want!r})", wrong=True)
            return None
        return said


# The survey as a shipper answers it from an SMS link: (question, what is said, what the bot
# asks next, the score the store keeps: None for the skipped comment).
SURVEY_ANSWERS: tuple[tuple[str, str, str, int | None], ...] = (
    ("csat", "4", "on time", 4),
    ("on_time", "yes", "condition", 1),
    ("condition", "yes", "courteous", 1),
    ("courtesy", "5", "recommend", 5),
    ("nps", "9", "anything else", 9),
    ("comment", "nothing", "thank you", None),
)


def complaint_script(number: str, declared_value: float) -> list[Step]:
    """A damage claim on a delivered parcel, five turns to a `C-` reference."""
    kind = "complaint"
    return [
        (kind, f"my parcel {number} arrived crushed", "what happened"),
        (kind, "the box was flattened and the mug inside is broken", "how much"),
        (kind, f"£{declared_value / 2:.2f}", "photos"),
        (kind, "no", ""),
        (kind, "chat", "c-"),
    ]


def survey_script(token: str) -> list[Step]:
    """The delivery survey from its SMS link, seven turns to the thank-you."""
    kind = "survey"
    return [
        # What the widget sends when opened from a survey link.
        (kind, {"text": "I'd like to give feedback", "survey_token": token}, "how satisfied"),
        *((kind, said, asks) for _question, said, asks, _score in SURVEY_ANSWERS),
    ]


def script_for(kind: str, pools: Pools, rng: random.Random) -> list[Step]:
    if kind == "tracking":
        number = rng.choice(pools.tracking)
        asks = (f"where is my parcel {number}", f"track {number}", f"{number} status please")
        return [(kind, rng.choice(asks), number.lower())]
    if kind == "knowledge":
        return [(kind, rng.choice(KNOWLEDGE_QUESTIONS), "source:")]
    if kind == "small talk":
        return [(kind, rng.choice(SMALL_TALK), "")]
    if kind == "complaint":
        return complaint_script(*rng.choice(pools.damaged))
    token = pools.take_token()
    if token is None:  # every invitation answered: a knowledge question instead
        return script_for("knowledge", pools, rng)
    return survey_script(token)


# Shares of new conversations; forms are several turns each, so turns are spread more evenly.
MIX = {"tracking": 40, "knowledge": 25, "small talk": 15, "complaint": 10, "survey": 10}


async def drive(
    url: str, pools: Pools, conversations: int, seconds: float, pause: float, seed: int = 1
) -> Results:
    """`conversations` shippers at once, each starting a new conversation when one ends,
    until `seconds` have passed (a conversation under way is finished)."""
    results = Results()
    deadline = time.monotonic() + seconds
    kinds, weights = list(MIX), list(MIX.values())

    async def one(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        shipper = Shipper(url, results, pause, rng)
        if pause:  # people do not all arrive in the same second
            await asyncio.sleep(rng.uniform(0, pause))
        while time.monotonic() < deadline:
            kind = rng.choices(kinds, weights)[0]
            await shipper.conversation(script_for(kind, pools, rng))

    started = time.monotonic()
    await asyncio.gather(*(one(i) for i in range(conversations)))
    results.seconds = time.monotonic() - started
    return results


# ------------------------------------------------------------------ memory


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def group_processes(pgid: int) -> Iterator[tuple[int, list[str]]]:
    """(pid, /proc/pid/stat fields after the name) of every process in the process group."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # field 5 of stat, after the name: the process group
            yield int(entry.name), fields


def group_rss_mb(pgid: int) -> float:
    """Resident memory of every process in the process group (a service and its children)."""
    return sum(_rss_kb(pid) for pid, _fields in group_processes(pgid)) / 1024


def group_cpu_seconds(pgid: int) -> float:
    """CPU time (user and system) used so far by the processes of the group."""
    tick = os.sysconf("SC_CLK_TCK")
    return sum((int(f[11]) + int(f[12])) / tick for _pid, f in group_processes(pgid))


class CpuWatch:
    """CPU milliseconds each service spends per turn over a phase: where a turn's time goes."""

    def __init__(self, stack: Stack) -> None:
        self.pids = {name: proc.pid for name, proc in stack.processes.items()}
        self.start = {name: group_cpu_seconds(pid) for name, pid in self.pids.items()}

    def per_turn_ms(self, turns: int) -> dict[str, float]:
        return {
            name: round(1000 * (group_cpu_seconds(pid) - self.start[name]) / max(turns, 1), 1)
            for name, pid in self.pids.items()
        }


class MemoryWatch:
    """Samples each service's RSS every half second; keeps the peak."""

    def __init__(self, stack: Stack) -> None:
        self.pids = {name: proc.pid for name, proc in stack.processes.items()}
        self.peak: dict[str, float] = dict.fromkeys(self.pids, 0.0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for name, pid in self.pids.items():
                self.peak[name] = max(self.peak[name], group_rss_mb(pid))
            self._stop.wait(0.5)

    def __enter__(self) -> MemoryWatch:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


# ------------------------------------------------------------------ store and stack


def prepare_pools(url: str, survey_invitations: int) -> Pools:
    """Tracking numbers of every status, damaged parcels, and survey links (invitations as the
    SMS would carry them). The e2e suite's example parcels are left alone."""
    with Session(get_engine(url)) as session:
        examples = set(example_numbers(session).values())
        shipments = session.exec(select(Shipment).order_by(col(Shipment.id).desc())).all()
        spare = [s for s in shipments if s.tracking_number not in examples]
        tracking = [s.tracking_number for s in spare[:2000]]
        # Delivered and damaged: "my parcel arrived crushed" (as the seed's own example).
        damaged = [
            (s.tracking_number, float(s.declared_value))
            for s in spare
            if s.damaged and s.status == ShipmentStatus.delivered
        ][:200]
        delivered = [s for s in spare if s.status == ShipmentStatus.delivered and not s.damaged][
            :survey_invitations
        ]
        now = datetime.now(UTC)
        tokens = []
        for shipment in delivered:
            token = f"bench-{shipment.id}-{random.getrandbits(64):016x}"
            session.add(
                SurveyInvitation(
                    token=token,
                    kind=SurveyKind.on_request,
                    shipment_id=shipment.id,
                    customer_id=shipment.customer_id,
                    contact="+447700900000",
                    created_at=now,
                    expires_at=now + timedelta(days=7),
                )
            )
            tokens.append(token)
        session.commit()
    return Pools(tracking=tracking, damaged=damaged, survey_tokens=tokens)


# ------------------------------------------------------------------ report


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def summarise(results: Results) -> dict[str, object]:
    types = {
        kind: {
            "n": len(values),
            "p50": round(percentile(values, 0.50), 1),
            "p95": round(percentile(values, 0.95), 1),
            "p99": round(percentile(values, 0.99), 1),
        }
        for kind, values in results.latencies.items()
        if values
    }
    return {
        "turns": results.turns,
        "turns_per_s": round(results.turns / results.seconds, 2) if results.seconds else 0.0,
        "errors": sum(results.errors.values()),
        "wrong_answers": sum(results.wrong.values()),
        "types": types,
    }


def ratio(now: float, before: object) -> str:
    if not isinstance(before, int | float) or not before:
        return ""
    return f"x{now / before:.2f}"


def print_phase(name: str, summary: dict[str, object], results: Results, base: dict) -> None:
    print(f"\n{name}: {summary['turns']} turns in {results.seconds:.0f} s")
    print(
        f"  {'turn type':<11} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}  vs baseline p95"
    )
    types: dict = summary["types"]  # type: ignore[assignment]
    for kind in TURN_TYPES:
        if kind not in types:
            continue
        t = types[kind]
        target = ""
        if name == "conversational 32" and kind in P95_TARGET_MS:
            goal = P95_TARGET_MS[kind]
            target = f"  target < {goal:.0f}: {'met' if t['p95'] < goal else 'NOT met'}"
        before = base.get("types", {}).get(kind, {}).get("p95")
        print(
            f"  {kind:<11} {t['n']:>5} {t['p50']:>8.0f} {t['p95']:>8.0f} {t['p99']:>8.0f}"
            f"  {ratio(t['p95'], before):>6}{target}"
        )
    rate = float(summary["turns_per_s"])  # type: ignore[arg-type]
    line = f"  sustained {rate:.1f} turns/s {ratio(rate, base.get('turns_per_s')):>6}"
    if name.startswith("saturation"):
        goal_met = "met" if rate >= TURNS_PER_S_TARGET else "NOT met"
        line += f"  target >= {TURNS_PER_S_TARGET:.0f}: {goal_met}"
    print(line)
    errors = int(summary["errors"])  # type: ignore[arg-type]
    by_kind = ", ".join(f"{k} {v}" for k, v in results.errors.items())
    print(f"  errors {errors}{f' ({by_kind})' if by_kind else ''}  target 0: "
          f"{'met' if errors == 0 else 'NOT met'}")  # fmt: skip
    cpu: dict[str, float] = summary.get("cpu_ms_per_turn") or {}  # type: ignore[assignment]
    if cpu:
        before = base.get("cpu_ms_per_turn", {})
        shares = ", ".join(
            f"{k} {v:.1f} {ratio(v, before.get(k))}".rstrip() for k, v in cpu.items()
        )
        print(f"  CPU per turn (ms): {shares}; all {sum(cpu.values()):.1f}")
    wrong = ", ".join(f"{k} {v}" for k, v in results.wrong.items())
    print(f"  wrong answers {summary['wrong_answers']}{f' ({wrong})' if wrong else ''}")
    for sample in results.samples:
        print(f"    e.g. {sample}")


# ------------------------------------------------------------------ profiling


def start_profilers(stack: Stack, seconds: float, out: Path) -> list[subprocess.Popen[bytes]]:
    """py-spy on each service for one phase: collapsed stacks (for reading) per process."""
    out.mkdir(parents=True, exist_ok=True)
    spy = Path(sys.executable).with_name("py-spy")
    return [
        subprocess.Popen(
            [
                str(spy),
                "record",
                "--pid",
                str(proc.pid),
                "--duration",
                str(int(seconds)),
                "--rate",
                "100",
                "--format",
                "raw",
                "--idle",
                "--subprocesses",
                "--output",
                str(out / f"{name}.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        for name, proc in stack.processes.items()
    ]


# ------------------------------------------------------------------ main


def model_for_run(time_training: bool, folder: Path) -> Path:
    if time_training:
        fresh = train(force=True, out_dir=folder / "model")
        print(f"training: {json.loads(training_record(fresh).read_text())['seconds']:.0f} s "
              "(into a temporary folder; the model in use is untouched)")  # fmt: skip
    existed = model_path().exists()
    model = train()
    record = training_record(model)
    seconds = json.loads(record.read_text())["seconds"] if record.exists() else None
    when = "trained now" if not existed else "model up to date"
    known = f"last training took {seconds:.0f} s" if seconds else "no training time recorded"
    print(f"training: {when}; {known} (--time-training trains afresh into a temp folder)")
    return model


def run(args: argparse.Namespace) -> int:
    folder = Path(tempfile.mkdtemp(prefix="bench-"))
    url = f"sqlite:///{folder / 'store.db'}"
    customers, shipments = (60, 2500) if args.quick else (600, 24_000)
    print(f"store: seeding {customers} customers, {shipments} shipments in {folder}", flush=True)
    seed_database(url, customers=customers, shipments=shipments, seed=11, echo=lambda _: None)
    recompute_all(get_engine(url))
    pools = prepare_pools(url, survey_invitations=50 if args.quick else 600)
    kindex.ensure_built(echo=lambda _line: None)
    model = model_for_run(args.time_training, folder)
    env = {"CHAT_RATE_PER_CONVERSATION": "0", "CHAT_RATE_PER_IP": "0", "HANDOFF_HOURS": "always"}
    stack = Stack(model=model, database_url=url, ports=Ports.free(), log_dir=folder, env=env)
    started = time.monotonic()
    stack.start(timeout=300)
    print(f"start: all three services answering after {time.monotonic() - started:.1f} s")
    base = json.loads(BASELINE.read_text()) if BASELINE.exists() and not args.quick else {}
    ws_url = stack.backend_url.replace("http://", "ws://") + "/api/chat/ws"
    print("transport: the widget's WebSocket /api/chat/ws, one socket per conversation")
    phases = (
        [("conversational 4", 4, 0.3), ("saturation 4", 4, 0.0)]
        if args.quick
        else [
            ("conversational 32", 32, args.pause),
            ("saturation 8", 8, 0.0),
            ("saturation 32", 32, 0.0),
        ]
    )
    phases = [phase for phase in phases if phase[0].split()[0] in args.shapes]
    figures: dict[str, object] = {}
    failed = False
    try:
        # Warm up: first turns load lazily (Rasa's graph, the knowledge encoder).
        asyncio.run(drive(ws_url, pools, 2, 2 if args.quick else 8, 0.0, seed=99))
        with MemoryWatch(stack) as memory:
            for index, (name, conversations, pause) in enumerate(phases):
                # People pausing between messages make a third of the turns per second, and a
                # p95 per turn type wants a few hundred turns of each: twice as long.
                seconds = args.phase_seconds * (2 if pause and not args.quick else 1)
                profilers = []
                if args.profile and name == phases[-1][0]:
                    profilers = start_profilers(stack, seconds, Path(args.profile))
                cpu = CpuWatch(stack)
                results = asyncio.run(
                    drive(ws_url, pools, conversations, seconds, pause, seed=index + 1)
                )
                for spy in profilers:
                    spy.wait()
                summary = summarise(results)
                summary["cpu_ms_per_turn"] = cpu.per_turn_ms(results.turns)
                figures[name] = summary
                print_phase(name, summary, results, base.get(name, {}))
                failed |= bool(summary["errors"]) or not summary["turns"]
        total = sum(memory.peak.values())
        print("\nresident memory (peak, children included):")
        for name, mb in memory.peak.items():
            print(f"  {name:<8} {mb:>7.0f} MB {ratio(mb, base.get('rss_mb', {}).get(name)):>6}")
        verdict = "met" if total < RSS_TARGET_MB else "NOT met"
        print(f"  total    {total:>7.0f} MB  target < {RSS_TARGET_MB:.0f}: {verdict}")
        figures["rss_mb"] = {name: round(mb) for name, mb in memory.peak.items()}
        if args.profile:
            print(f"\nprofiles (py-spy collapsed stacks, last phase): {args.profile}")
    finally:
        stack.stop()
    if args.save_baseline:
        BASELINE.write_text(json.dumps(figures, indent=1) + "\n")
        print(f"baseline written: {BASELINE.relative_to(ROOT)}")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a few dozen turns (make test)")
    parser.add_argument("--phase-seconds", type=float, default=45.0, help="length of each phase")
    parser.add_argument(
        "--shapes",
        nargs="+",
        choices=("conversational", "saturation"),
        default=("conversational", "saturation"),
        help="load shapes to run",
    )
    parser.add_argument("--pause", type=float, default=2.0, help="conversational pause (s)")
    parser.add_argument("--time-training", action="store_true", help="train into a temp dir")
    parser.add_argument("--profile", metavar="DIR", help="py-spy the last phase into DIR")
    parser.add_argument("--save-baseline", action="store_true", help=f"write {BASELINE.name}")
    args = parser.parse_args(argv)
    if args.quick:
        args.phase_seconds = min(args.phase_seconds, 6.0)
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
