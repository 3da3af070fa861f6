"""The load benchmark's quick mode on the end-to-end stack: a few dozen turns of the mixed
workload over the widget's WebSocket, with zero errors and sane figures, so it cannot rot."""

from __future__ import annotations

import asyncio

import pytest

from scripts.bench import MemoryWatch, drive, prepare_pools, print_phase, summarise
from scripts.stack import Stack


def test_quick_bench_runs_without_errors(
    stack: Stack, e2e_store: str, capsys: pytest.CaptureFixture[str]
) -> None:
    pools = prepare_pools(e2e_store, survey_invitations=6)
    url = stack.backend_url.replace("http://", "ws://") + "/api/chat/ws"
    with MemoryWatch(stack) as memory:
        results = asyncio.run(drive(url, pools, conversations=3, seconds=6, pause=0.0))
    summary = summarise(results)
    print_phase("saturation 3", summary, results, {})
    assert summary["errors"] == 0, results.samples
    assert results.turns >= 12, summary
    types = summary["types"]
    assert isinstance(types, dict) and types
    for figures in types.values():
        assert 0 < figures["p50"] <= figures["p95"] <= figures["p99"] < 60_000
    assert float(summary["turns_per_s"]) > 0  # type: ignore[arg-type]
    # Every service is resident and measured (Rasa alone holds hundreds of MB).
    assert all(mb > 20 for mb in memory.peak.values()), memory.peak
    assert "turns/s" in capsys.readouterr().out
