"""`make bench-prod ARGS=--quick` on this machine's PostgreSQL and Redis: the saturation
workload on a production stack with one and with two Rasa servers, and a small soak; zero
errors, and everything the bot confirmed found in the store exactly once."""

from __future__ import annotations

import pytest

from scripts import bench_prod


def test_quick_bench_prod_has_no_errors_and_loses_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = bench_prod.parse(["--quick", "--database", "parcelline_benchprod_test"])
    try:
        report = bench_prod.run(args)
    except SystemExit as exc:  # PostgreSQL or Redis missing on this machine
        pytest.skip(str(exc))
    out = capsys.readouterr().out
    with capsys.disabled():
        print(out)
    assert report.errors == 0, out
    for servers in bench_prod.SERVER_COUNTS:
        summary = report.saturation[servers]
        assert int(summary["turns"]) >= 8, summary  # type: ignore[call-overload]
        assert float(summary["turns_per_s"]) > 0  # type: ignore[arg-type]
        # Every Rasa server of the stack is resident and measured.
        rasa = [mb for name, mb in report.rss_mb[servers].items() if name.startswith("rasa")]
        assert len(rasa) == servers and all(mb > 100 for mb in rasa), report.rss_mb
    verdict = report.soak
    assert verdict is not None
    assert verdict.conversations == args.conversations == 24
    assert verdict.finished == verdict.conversations, out
    assert verdict.tickets_confirmed == verdict.tickets_found == 12, out
    assert verdict.answers_confirmed == verdict.answers_found == 72, out
    assert verdict.exactly_once and report.ok, out
    for line in ("turns/s", "p95 1 srv", "tickets  confirmed", "exactly once: yes"):
        assert line in out
