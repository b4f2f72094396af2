"""The pure parts of the issue-14 benchmarks: statistics, goals, sections, profiles, rates (no timing in tests)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import harness
from bench.backfill import scaled_copy
from bench.streaming_drain import backlog, commits_of, cpu_budget_us, flush_rate, work_role
from bench.upsert_flush import final_snapshots, newer_snapshots, statement_label, step_rank


def test_percentile_interpolates_between_closest_ranks():
    assert harness.percentile([10, 20, 30, 40], 50) == 25
    assert harness.percentile([5], 99) == 5
    assert harness.percentile([3, 1, 2], 100) == 3
    assert harness.percentile([0, 100], 99) == pytest.approx(99)
    with pytest.raises(ValueError):
        harness.percentile([], 50)
    with pytest.raises(ValueError):
        harness.percentile([1], 101)


def test_median_range_and_cell_skip_missing_values():
    assert harness.median_range([3, None, 1, 2]) == (2, 1, 3)
    assert harness.median_range([None]) is None
    assert harness.cell([1000, 3000, 2000]) == "2,000 (1,000 to 3,000)"
    assert harness.cell([0.5, 0.5], "{:.2f}") == "0.50"
    assert harness.cell([None]) == "n/a"


def test_goal_higher_is_better():
    goal = harness.Goal("drain / bare", 0.62, 0.5, fmt="{:.2f}")
    assert goal.met and goal.ratio == pytest.approx(1.24)
    assert harness.goal_line(goal) == "- **met** drain / bare: 0.62 (goal ≥ 0.50; 1.24x of the goal)"
    missed = harness.Goal("drain / bare", 0.25, 0.5, fmt="{:.2f}")
    assert not missed.met
    assert harness.goal_line(missed).startswith("- **MISSED** drain / bare: 0.25 (goal ≥ 0.50; 0.50x")


def test_goal_lower_is_better_and_missing_values():
    latency = harness.Goal("p99", 500, 250, "ms", higher_is_better=False, fmt="{:,.0f}")
    assert not latency.met and latency.ratio == 0.5
    assert harness.goal_line(latency) == "- **MISSED** p99: 500 ms (goal ≤ 250 ms; 0.50x of the goal)"
    assert harness.Goal("lost", 0.0, 0, higher_is_better=False).met
    unknown = harness.Goal("p99", None, 250, "ms", higher_is_better=False)
    assert not unknown.met and unknown.ratio is None
    assert "n/a" in harness.goal_line(unknown)


def test_section_renders_between_its_markers_and_replaces_only_itself(tmp_path: Path):
    section = harness.Section(
        key="demo",
        title="Demo",
        command="python -m bench.demo --write BENCHMARKS.md",
        setup="Set-up.",
        tables=[harness.table(("What", "n"), [("a", "1")])],
        goals=[harness.Goal("n", 1, 2)],
        notes=["A note."],
    )
    text = harness.render_section(section, "2 cores", "2026-11-23")
    assert text.startswith("<!-- bench:demo:begin -->\n## Demo\n")
    assert text.endswith("<!-- bench:demo:end -->")
    assert "| What | n |\n|---|---:|\n| a | 1 |" in text
    assert "- **MISSED** n: 1.00 (goal ≥ 2.00; 0.50x of the goal)" in text
    path = tmp_path / "BENCHMARKS.md"
    path.write_text("# Benchmarks\n\nIntro.\n\n<!-- other:start -->\nkept\n<!-- other:end -->\n")
    harness.publish_section(section, str(path))
    harness.publish_section(section, str(path))
    written = path.read_text()
    assert written.count("<!-- bench:demo:begin -->") == 1
    assert "<!-- other:start -->\nkept\n<!-- other:end -->" in written
    assert written.startswith("# Benchmarks\n\nIntro.")


def test_shown_command_drops_where_the_output_goes():
    assert (
        harness.shown_command("bench.x", ["--runs", "3", "--write", "out.md"])
        == "python -m bench.x --runs 3 --write BENCHMARKS.md"
    )
    assert (
        harness.shown_command("bench.x", ["--write=out.md", "a b"]) == "python -m bench.x 'a b' --write BENCHMARKS.md"
    )


def test_top_frames_counts_inclusive_project_frames_and_leaves_within_the_bundle_loop():
    collapsed = [
        'process 1:"python job.py";<module> (job.py:1);process_bundle (fn_runner.py:9);'
        "_flush (/x/beam_pipelines/transforms/batching.py:80);connect (/x/warehouse/connection.py:55) 6",
        "<module> (job.py:1);process_bundle (fn_runner.py:9);"
        "_flush (/x/beam_pipelines/transforms/batching.py:81);upsert (/x/beam_pipelines/sinks/duckdb.py:70) 2",
        "<module> (job.py:1);_find_and_load (<frozen importlib._bootstrap>:1) 40",  # start-up: outside bundles
        "malformed line",
    ]
    inclusive, own = harness.top_frames(collapsed, within="process_bundle")
    assert inclusive[0] == ("_flush (transforms/batching.py)", 1.0)
    assert ("connect (warehouse/connection.py)", 0.75) in inclusive
    assert all("fn_runner" not in frame for frame, _ in inclusive)  # not the project's code
    assert own == [("connect (warehouse/connection.py)", 0.75), ("upsert (sinks/duckdb.py)", 0.25)]
    assert harness.top_frames(["nothing here"]) == ([], [])


def test_render_profile_pads_the_shorter_column():
    lines = harness.render_profile("Profile", [("a (x.py)", 0.5)], [("b (y.py)", 0.25), ("c (z.py)", 0.1)])
    assert lines[0] == "Profile:"
    assert "| `a (x.py)` | 50% | `b (y.py)` | 25% |" in lines
    assert "|  |  | `c (z.py)` | 10% |" in lines


def test_flush_rate_leaves_the_first_flush_out():
    assert flush_rate([(10.0, 1000), (11.0, 1000), (12.0, 500)]) == 750
    assert flush_rate([(12.0, 500), (10.0, 1000), (11.0, 1000)]) == 750  # any order
    assert flush_rate([(10.0, 1000)]) is None
    assert flush_rate([]) is None


def test_the_work_role_runs_the_pipeline_steps_on_the_whole_backlog(tmp_path: Path):
    """The drain's one-process ceiling goes through the pipeline's own steps and warehouse: each event of the
    backlog is committed once, as pipeline_metrics counts it, and each order holds its newest snapshot."""
    from warehouse.connection import connect

    events = 600
    assert work_role(events, tmp_path / "w.duckdb", bundle=250) == 0  # three bundles, so three flushes
    commits = commits_of(tmp_path / "w.duckdb")
    newest: dict[str, int] = {}
    for message in backlog(events):
        event = json.loads(message.data)
        order_id = event["order"]["order_id"]
        newest[order_id] = max(newest.get(order_id, 0), event["sequence"])
    with connect(tmp_path / "w.duckdb", read_only=True) as connection:
        stored = dict(connection.execute("SELECT order_id, _sequence FROM orders_rt.orders").fetchall())
    assert len(commits) == 3 and sum(n for _, n in commits) == events
    assert stored == newest and len(newest) < events  # some orders got several snapshots


def test_statement_label_names_the_step_and_table():
    assert statement_label('MERGE INTO "orders_rt"."order_items" AS t USING x') == "MERGE order_items"
    assert statement_label('DELETE FROM "orders_rt"."orders" AS t WHERE') == "DELETE orders"
    assert statement_label('INSERT INTO "orders_rt"."pipeline_metrics" (a) SELECT') == "INSERT pipeline_metrics"
    assert statement_label("SELECT o.order_id, o._sequence, o._event_id FROM t") == "SELECT stored versions"
    assert statement_label("SET TimeZone = 'UTC'") == "SET"
    assert statement_label("") == "?"
    script = 'DELETE FROM "s"."orders" WHERE x;\nINSERT INTO "s"."orders" (a) SELECT a FROM b;\nCOMMIT'
    assert statement_label(script) == "DELETE orders + INSERT orders + COMMIT"
    steps = ["unregister", "INSERT orders + COMMIT", "BEGIN + SELECT stored versions", "DELETE orders + COMMIT"]
    assert sorted(steps, key=step_rank) == [
        "BEGIN + SELECT stored versions",
        "DELETE orders + COMMIT",
        "INSERT orders + COMMIT",
        "unregister",
    ]


def test_the_live_flushes_replace_stored_orders_and_drop_lines(tmp_path: Path):
    from beam_pipelines.sinks.duckdb import DuckDBWarehouse
    from beam_pipelines.sinks.fold import classify
    from warehouse.connection import connect

    loaded = final_snapshots(60)
    newer = newer_snapshots(loaded, 20)
    warehouse = DuckDBWarehouse(str(tmp_path / "w.duckdb"))
    warehouse.prepare()
    warehouse.upsert(loaded)
    stored = warehouse.upsert(newer)
    assert len({s.order_id for s in newer}) == 20 and set(classify(newer, stored)) == {"applied"}
    before = {s.order_id: len(s.items) for s in loaded}
    dropped = sum(before[s.order_id] > 1 for s in newer)
    with connect(tmp_path / "w.duckdb", read_only=True) as connection:
        (items,) = connection.execute("SELECT count(*) FROM orders_rt.order_items").fetchone()
        (live,) = connection.execute("SELECT count(*) FROM orders_rt.orders WHERE _event_id LIKE '%-live'").fetchone()
    assert dropped > 0  # some orders lose a line: the flush deletes as well as inserts
    assert (items, live) == (sum(before.values()) - dropped, 20)


def test_scaled_copy_repeats_events_under_new_ids(tmp_path: Path):
    source = tmp_path / "events.jsonl"
    event = {
        "event_id": "e" * 36,
        "order": {"order_id": "o" * 32, "customer_id": "c" * 32},
        "customer": {"customer_id": "c" * 32},
    }
    source.write_text(json.dumps(event) + "\n")
    target = tmp_path / "scaled.jsonl"
    assert scaled_copy(source, target, 3) == 3
    events = [json.loads(line) for line in target.read_text().splitlines()]
    assert events[0] == event
    assert len({e["event_id"] for e in events}) == 3
    assert len({e["order"]["order_id"] for e in events}) == 3
    assert all(len(e["order"]["order_id"]) == 32 and len(e["event_id"]) == 36 for e in events)
    assert all(e["customer"]["customer_id"] == e["order"]["customer_id"] for e in events)


def test_the_schema_check_section_states_the_ratio_of_the_two_fast_paths_run_by_run():
    from bench.schema_check import section

    results = {
        "schema check: jsonschema-rs": [5.0, 6.0, 7.0],
        "validate_payload with jsonschema-rs": [100.0, 50.0, 80.0],
        "validate_payload with fastjsonschema": [150.0, 150.0, 120.0],
    }
    text = "\n".join(section(results, 10, 3, ["--runs", "3", "--write", "X.md"]).notes)
    assert "1.50x" in text  # ratios per run: 1.5, 3.0, 1.5 -> median 1.5
    assert "fastjsonschema is not installed" in "\n".join(
        section({"validate_payload with jsonschema-rs": [1.0]}, 10, 1, []).notes
    )


def test_run_timed_reports_the_childs_own_peak_memory_not_the_parents(tmp_path: Path):
    """Linux starts a child's ru_maxrss at its parent's peak: a bench process holding 400 MiB would report that
    much for every backfill it runs. The child here holds ~50 MiB."""
    import sys

    held = bytearray(400 << 20)  # the parent's peak, well above the child's
    code, _, peak_mib, _ = harness.run_timed(
        [sys.executable, "-c", "import time; block = bytearray(50 << 20); time.sleep(0.3)"], tmp_path / "log"
    )
    assert code == 0 and len(held) == 400 << 20
    assert 50 <= peak_mib < 200


def test_a_terminated_benchmark_stops_the_process_it_runs(tmp_path: Path):
    """SIGTERM to a benchmark (through ``run_main``) stops the child ``run_timed`` started in a session of its
    own, which the signal itself does not reach."""
    import os
    import signal
    import subprocess
    import sys
    import time

    pid_file = tmp_path / "child.pid"
    child = [
        sys.executable,
        "-c",
        f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(300)",
    ]
    script = (
        "from pathlib import Path; from bench import harness; "
        f"harness.run_main(lambda: harness.run_timed({child!r}, Path({str(tmp_path / 'child.log')!r}))[0])"
    )
    benchmark = subprocess.Popen([sys.executable, "-c", script], cwd=harness.REPO_ROOT)
    child_pid = None
    try:
        deadline = time.monotonic() + 60
        while not (pid_file.exists() and pid_file.read_text()):
            assert benchmark.poll() is None and time.monotonic() < deadline, "the child never started"
            time.sleep(0.05)
        child_pid = int(pid_file.read_text())
        benchmark.send_signal(signal.SIGTERM)
        assert benchmark.wait(timeout=60) != 0
        assert not Path(f"/proc/{child_pid}").exists()  # stopped and reaped by the benchmark before it ended
    finally:
        if benchmark.poll() is None:
            benchmark.kill()
            benchmark.wait()
        if child_pid is not None and Path(f"/proc/{child_pid}").exists():
            os.kill(child_pid, signal.SIGKILL)


def test_cpu_budget_is_what_the_cores_leave_at_the_goal_rate_after_the_emulator():
    # half of 20,000 messages/s is 10,000 events/s: 2 cores give 200 µs of CPU per event, the emulator takes 50
    assert cpu_budget_us(20_000, 50, cores=2) == pytest.approx(150)
    assert cpu_budget_us(20_000, 50, cores=2, ratio=1.0) == pytest.approx(50)


def test_session_cpu_counts_every_process_of_the_session(tmp_path: Path):
    """A child in a session of its own burns CPU in itself and in a grandchild; the session's CPU covers both, as
    each reports with its own ``time.process_time()``."""
    import os
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "burn.py"
    script.write_text(
        "import subprocess, sys, time\n"
        "if len(sys.argv) > 2:\n"
        "    subprocess.Popen([sys.executable, sys.argv[0], sys.argv[2]])\n"
        "while time.process_time() < 0.3:\n"
        "    pass\n"
        "open(sys.argv[1], 'w').write(str(time.process_time()))\n"
        "time.sleep(300)\n"
    )
    reports = [tmp_path / "parent", tmp_path / "child"]
    command = [sys.executable, str(script), *map(str, reports)]
    session = subprocess.Popen(command, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not all(r.exists() and r.read_text() for r in reports):
            assert session.poll() is None and time.monotonic() < deadline, "the session's processes did not report"
            time.sleep(0.05)
        reported = sum(float(r.read_text()) for r in reports)
        assert reported >= 0.6
        # clock ticks of 10 ms below; above, what each spent after reporting (it sleeps) and in the exec
        assert reported - 0.05 <= harness.session_cpu_seconds(session.pid) <= reported + 0.5
    finally:
        os.killpg(session.pid, signal.SIGKILL)
        session.wait()
