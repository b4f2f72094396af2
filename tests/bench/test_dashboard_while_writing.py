"""The pure parts of bench.dashboard_while_writing: percentiles, latencies, rates, pairing, the section."""

from __future__ import annotations

import pytest

from bench import dashboard_while_writing as bench

WITH_2 = bench.variant_name(2.0)
WITH_1 = bench.variant_name(1.0)


def measurement(run: int, variant: str, refresh: float | None, p50: float, p99: float, throughput: float, **more):
    fields = dict(
        run=run,
        variant=variant,
        refresh=refresh,
        latency={"count": 100, "p50": p50, "p95": p99 * 0.9, "p99": p99},
        throughput=throughput,
        offered=200.0,
        drain_s=0.5,
        window_s=40.0,
        published=9000,
        committed=9800,
        warmup_published=800,
        polls=600,
        poll_ms=20.0,
        pipeline_cpu_s=20.0,
        load=(1.0, 2.0),
    )
    fields.update(more)
    return bench.Measurement(**fields)


def test_percentile_interpolates_between_closest_ranks():
    assert bench.percentile([4, 1, 3, 2], 50) == 2.5
    assert bench.percentile([4, 1, 3, 2], 0) == 1
    assert bench.percentile([4, 1, 3, 2], 100) == 4
    assert bench.percentile(list(range(101)), 99) == 99
    assert bench.percentile([10, 20], 25) == 12.5
    assert bench.percentile([7], 99) == 7


@pytest.mark.parametrize("values, p", [([], 50), ([1], -1), ([1], 101)])
def test_percentile_refuses_what_has_none(values, p):
    with pytest.raises(ValueError):
        bench.percentile(values, p)


def test_latency_summary():
    assert bench.latency_summary([]) == {"count": 0, "p50": None, "p95": None, "p99": None}
    summary = bench.latency_summary([float(v) for v in range(1, 101)])
    assert summary["count"] == 100
    assert summary["p50"] == pytest.approx(50.5)
    assert summary["p95"] == pytest.approx(95.05)
    assert summary["p99"] == pytest.approx(99.01)


def test_visible_latency_counts_the_first_sighting_of_each_snapshot_in_the_window():
    sightings = [
        ("a", 1_000.0, 1_300.0),
        ("b", 1_100.0, 1_300.0),
        ("a", 1_000.0, 1_900.0),  # seen again later: the first sighting counts
        ("early", 900.0, 1_300.0),  # published before the window (warm-up)
        ("late", 2_100.0, 2_200.0),  # after it
        ("c", 2_000.0, 2_600.0),
    ]
    assert sorted(bench.visible_latencies(sightings, 1_000.0, 2_000.0)) == [200.0, 300.0, 600.0]


def test_committed_rate_and_drain():
    commits = [(9.0, 50), (10.0, 100), (15.0, 100), (20.0, 100), (21.5, 40)]
    assert bench.committed_rate(commits, 10.0, 20.0) == 30.0
    assert bench.drain_seconds(commits, 20.0) == 1.5
    assert bench.drain_seconds(commits, 30.0) == 0.0
    assert bench.drain_seconds([], 30.0) == 0.0
    with pytest.raises(ValueError):
        bench.committed_rate(commits, 20.0, 20.0)


def test_published_count_is_the_final_line():
    log = (
        "  1000 messages, 199/s\n  2000 messages, 200/s\n"
        "9012 messages to projects/p/topics/orders in 45.1s: 1830 orders, invalid none\n"
    )
    assert bench.published_count(log) == 9012
    assert bench.published_count("  1000 messages, 199/s\n") is None


def test_pipeline_counts_from_its_summary_line():
    log = (
        "INFO something\n"
        "9012 messages: 9012 valid, 0 dead-lettered at validation; 8000 snapshots applied, 0 stale, 0 duplicate, "
        "1012 superseded within a batch; 0 dead letters written; 3 pipeline_metrics writes failed (dropped)\n"
    )
    assert bench.pipeline_counts(log) == {"received": 9012, "metrics_dropped": 3}
    clean = "10 messages: 9 valid, 1 dead-lettered at validation; 9 snapshots applied; 1 dead letters written\n"
    assert bench.pipeline_counts(clean) == {"received": 10, "metrics_dropped": 0}
    assert bench.pipeline_counts("interrupted\n") is None


def test_checks_say_what_was_received_and_dropped():
    measurements = three_runs()
    for m in measurements:
        m.received = m.published + m.warmup_published
    assert bench.render_checks(measurements) == (
        "Checks: the pipelines counted 58,800 of the 58,800 messages published (warm-ups included); "
        "no `pipeline_metrics` write was dropped."
    )
    measurements[1].metrics_dropped = 2
    assert f"without: 0; {WITH_2}: 2 (sums over runs)." in bench.render_checks(measurements)


def test_dashboard_read_from_the_page_caption():
    caption = (
        "Data as of 04:41:02 (newest write in the warehouse) · refreshed 04:41:03 · read 04:41:03 in 85 ms · "
        "times in America/Sao_Paulo"
    )
    assert bench.dashboard_read_ms(caption) == ("04:41:03", 85.0)
    assert bench.dashboard_read_ms("Data as of n/a · refreshed 04:41:03 · times in America/Sao_Paulo") is None


def test_schedule_alternates_without_and_with():
    assert bench.schedule(1.0, 2.0) == [("without", None), (WITH_2, 2.0), ("without", None), (WITH_1, 1.0)]
    assert bench.schedule(0, 2.0) == [("without", None), (WITH_2, 2.0)]
    assert bench.schedule(2.0, 2.0) == [("without", None), (WITH_2, 2.0)]


def test_each_with_is_paired_with_the_without_just_before_it_in_its_run():
    a = measurement(0, "without", None, 100, 200, 200)
    b = measurement(0, WITH_2, 2.0, 200, 800, 190)
    c = measurement(0, "without", None, 110, 210, 201)
    d = measurement(0, WITH_1, 1.0, 300, 900, 180)
    e = measurement(1, WITH_2, 2.0, 1, 1, 1)  # no 'without' before it in run 1
    assert bench.paired([a, b, c, d, e]) == [(b, a), (d, c)]


def test_median_range():
    assert bench.median_range([3.0, None, 1.0, 2.0]) == (2.0, 1.0, 3.0)
    assert bench.median_range([None]) is None


def three_runs() -> list[bench.Measurement]:
    measurements = []
    for run, (base, extra) in enumerate([(100, 2.0), (120, 3.0), (80, 4.0)]):
        measurements.append(measurement(run, "without", None, base, 4 * base, 200.0))
        measurements.append(
            measurement(
                run,
                WITH_2,
                2.0,
                base * extra,
                8 * base,
                200.0,
                dashboard_reads=20,
                dashboard_read_ms=90.0,
                dashboard_cpu_s=10.0,
            )
        )
    return measurements


def test_table_shows_medians_ranges_and_per_run_ratios():
    lines = bench.render_table(three_runs())
    assert lines[0].startswith("| Variant | visible p50 (ms) |")
    without = next(line for line in lines if line.startswith("| without (n=3)"))
    assert "| 100 (80 to 120) |" in without
    assert without.endswith("| none |")
    with_2 = next(line for line in lines if line.startswith(f"| {WITH_2} (n=3)"))
    assert "| 320 (200 to 360) |" in with_2  # 100x2, 120x3, 80x4
    assert with_2.endswith("| 20, 90 ms |")
    ratio = lines[lines.index(with_2) + 4]
    # p50 ratios 2, 3, 4 -> median 3; p99 ratios all 2; throughput and CPU 1.
    assert ratio == f"| {WITH_2} (n=3) | 3.00 (2.00 to 4.00) | 2.00 | 1.00 | 1.00 |"
    assert lines[lines.index(with_2) + 2].startswith("| Ratio with / without, same run (median of runs, range) |")
    assert bench.ratio_of(three_runs(), WITH_2, "visible p50 (ms)") == 3.0
    assert bench.median_of(three_runs(), "without", "visible p50 (ms)") == 100


def test_interpretation_says_what_the_figures_say():
    text = bench.interpretation(three_runs(), 2.0)
    assert "320 ms at the median" in text and "(3.0x and 2.0x" in text
    assert "still kept up with the 200 events/s offered" in text
    assert "DuckDB lets one process hold the file read-write" in text
    assert "10 s of CPU" in text
    slower = [
        m if m.refresh is None else measurement(m.run, m.variant, m.refresh, 300, 800, 150.0, drain_s=8.0)
        for m in three_runs()
    ]
    text = bench.interpretation(slower, 2.0)
    assert "fell behind the 200 events/s offered (150.0 against 200.0 events/s committed, ratio 0.75" in text
    assert "drained in 8.0 s against 0.5 s)." in text


def test_section_between_markers_replaced_or_appended(tmp_path):
    section = bench.render_section(
        three_runs(), command="python -m bench.x", date="2026-01-01", machine="2 cores", setup="S", interpretation="I"
    )
    assert section.startswith(bench.MARK_BEGIN) and section.endswith(bench.MARK_END)
    assert "Command: `python -m bench.x` · 2026-01-01 · 2 cores" in section
    path = tmp_path / "BENCHMARKS.md"
    path.write_text("# Benchmarks\n\nintro\n\n<!-- other:start -->\nother\n<!-- other:end -->\n")
    bench.write_section(path, section)
    first = path.read_text()
    assert first.endswith(section + "\n") and "<!-- other:end -->" in first
    bench.write_section(path, section.replace("| without", "| WITHOUT"))
    second = path.read_text()
    assert second.count(bench.MARK_BEGIN) == 1 and "| WITHOUT (n=3)" in second and "intro" in second


def test_shown_command_leaves_out_where_the_output_goes():
    argv = ["--runs", "3", "--results", "/tmp/r.json", "--write", "BENCHMARKS.md", "--seconds=30", "--write=X.md"]
    assert bench.shown_command(argv) == (
        "python -m bench.dashboard_while_writing --runs 3 --seconds=30 --write BENCHMARKS.md"
    )
