"""airflow/dags/ loads into Airflow's DagBag with no import error, on Airflow 2 and on Airflow 3.

Airflow lives in virtualenvs of its own, one per airflow/constraints-X.Y.txt (`pip install -r
airflow/requirements.txt -c airflow/constraints-X.Y.txt`), kept in a per-user cache outside the clone:
    ${OLIST_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/olist-realtime-orders}/airflow-X.Y-<hash>
keyed by those two files and the interpreter's exact build, so only the first run installs (about 30-40 s
each from PyPI); a lock file keeps parallel runs (other clones, CI) from installing the same venv twice. A
venv of an older key unused for a day is removed. The DagBag is filled in a subprocess of that venv with
AIRFLOW_HOME in a temporary folder; the facts it reports are checked here, and each task's bash script is
run with a stand-in `dbt` that records how it was called.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_DIR = REPO_ROOT / "airflow"
DAGS_DIR = AIRFLOW_DIR / "dags"
DAG_FILE = DAGS_DIR / "olist_dbt_build.py"
REQUIREMENTS = AIRFLOW_DIR / "requirements.txt"
CACHE_DIR = Path(
    os.environ.get("OLIST_CACHE_DIR")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "olist-realtime-orders"
)
#: One Airflow series per constraints file: 2.11 (Composer's Airflow 2) and 3.1.
SERIES = sorted(path.stem.removeprefix("constraints-") for path in AIRFLOW_DIR.glob("constraints-*.txt"))
INSTALL_TIMEOUT_S = 900
DAG_ID = "olist_dbt_build"
COMPOSER_DBT_DIR = "/home/airflow/gcs/data/dbt"

# Run by the Airflow venv's Python: fills the DagBag, reports what the test checks as JSON in argv[2].
PROBE = r"""
import json, sys, warnings

dags_dir, out, dag_file, dag_id = sys.argv[1:5]
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import airflow
    from airflow.models import DagBag

    bag = DagBag(dag_folder=dags_dir, include_examples=False)
dag = bag.dags.get(dag_id)


class Variables:
    # `var.value` in a template: the Airflow Variables set (none, or the ones given), else the default.
    def __init__(self, values):
        self.values = values

    def get(self, key, default=None):
        return self.values.get(key, default)


def render(task, values):
    env = dag.get_template_env()
    context = {"var": {"value": Variables(values)}}
    return {key: env.from_string(value).render(**context) for key, value in task.env.items()}


def seconds(delta):
    return None if delta is None else delta.total_seconds()


report = {
    "airflow_version": airflow.__version__,
    "import_errors": {str(path): str(error) for path, error in bag.import_errors.items()},
    "dag_ids": sorted(bag.dag_ids),
    # Warnings raised from the DAG file itself (a deprecated import would show here), whoever caught them.
    "dag_file_warnings": [str(w.message) for w in caught if w.filename == dag_file]
    + [str(w) for w in getattr(bag, "captured_warnings", {}).get(dag_file, [])],
}
if dag is not None:
    report["dag"] = {
        "schedule": dag.timetable.summary,
        "timetable": type(dag.timetable).__name__,
        "max_active_runs": dag.max_active_runs,
        "catchup": dag.catchup,
        "doc_md": dag.doc_md or "",
        "tasks": {
            task.task_id: {
                "operator": type(task).__module__ + "." + type(task).__name__,
                "upstream": sorted(task.upstream_task_ids),
                "downstream": sorted(task.downstream_task_ids),
                "bash_command": task.bash_command,
                "append_env": task.append_env,
                "env_default": render(task, {}),
                "env_variable": render(task, {"olist_dbt_project_dir": "/from/the/variable"}),
                "retries": task.retries,
                "retry_delay": seconds(task.retry_delay),
                "execution_timeout": seconds(task.execution_timeout),
            }
            for task in dag.tasks
        },
    }
with open(out, "w", encoding="utf-8") as handle:
    json.dump(report, handle)
"""


def _say(config: pytest.Config, line: str) -> None:
    """A line in pytest's own output, captured or not (the Airflow version, whether the venv was reused)."""
    capture = config.pluginmanager.get_plugin("capturemanager")
    if capture is None:
        print(f"\nairflow: {line}", flush=True)
        return
    with capture.global_and_fixture_disabled():
        print(f"\nairflow: {line}", flush=True)


def _venv_key(constraints: Path) -> str:
    digest = hashlib.sha256()
    for path in (REQUIREMENTS, constraints):
        digest.update(path.read_bytes())
    base = getattr(sys, "_base_executable", sys.executable)
    digest.update(f"{sys.version}\n{os.path.realpath(base)}\n".encode())
    return digest.hexdigest()[:12]


def airflow_python(series: str, config: pytest.Config) -> Path:
    """The Python of the cached venv for this Airflow series, installed first if missing (under a lock)."""
    constraints = AIRFLOW_DIR / f"constraints-{series}.txt"
    venv = CACHE_DIR / f"airflow-{series}-{_venv_key(constraints)}"
    python = venv / "bin" / "python"
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with open(f"{venv}.lock", "w") as lock:
        # One install at a time per venv, across clones and concurrent runs; the others wait, then reuse it.
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (venv / ".installed").is_file():
            _say(config, f"{series}: reusing {venv}")
        else:
            shutil.rmtree(venv, ignore_errors=True)
            log = Path(f"{venv}.install.log")
            started = time.monotonic()
            _say(config, f"{series}: installing -r {REQUIREMENTS.name} -c {constraints.name} into {venv}")
            steps = [
                [sys.executable, "-m", "venv", str(venv)],
                [str(python), "-m", "pip", "install", "--upgrade", "pip"],
                [str(python), "-m", "pip", "install", "-r", str(REQUIREMENTS), "-c", str(constraints)],
            ]
            # pip's output goes to a log, shown (its tail) only if the install fails.
            with log.open("w", encoding="utf-8") as output:
                for step in steps:
                    completed = subprocess.run(
                        step, stdout=output, stderr=subprocess.STDOUT, timeout=INSTALL_TIMEOUT_S, check=False
                    )
                    if completed.returncode != 0:
                        break
            if completed.returncode != 0:
                tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-60:])
                pytest.fail(f"installing Airflow {series} failed ({' '.join(step)}; whole log: {log}):\n{tail}")
            (venv / ".installed").write_text(f"{REPO_ROOT}\n", encoding="utf-8")
            _say(config, f"{series}: installed in {time.monotonic() - started:.0f} s")
        os.utime(venv)
    # Venvs of this series for older requirements or constraints, unused for a day (and their lock and log).
    for stale in CACHE_DIR.glob(f"airflow-{series}-*"):
        if not stale.name.startswith(venv.name) and time.time() - stale.stat().st_mtime > 86_400:
            if stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
            else:
                stale.unlink(missing_ok=True)
    return python


@pytest.fixture(scope="module", params=SERIES, ids=[f"airflow-{series}" for series in SERIES])
def dagbag(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What the DagBag of airflow/dags/ holds, filled by one Airflow series in its own venv."""
    series: str = request.param
    python = airflow_python(series, request.config)
    home = tmp_path_factory.mktemp(f"airflow-home-{series}")
    out = home / "dagbag.json"
    # Nothing of the caller's Airflow or Python setup, nor of this DAG's own settings: the defaults are tested.
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AIRFLOW", "PYTHON", "OLIST_DBT_", "DBT_", "GCP_PROJECT"))
    }
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(DAGS_DIR),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__LOGGING__LOGGING_LEVEL="WARNING",
    )
    completed = subprocess.run(
        [str(python), "-c", PROBE, str(DAGS_DIR), str(out), str(DAG_FILE), DAG_ID],
        cwd=home,  # not the clone: its airflow/ folder (the DAGs) has no business on the probe's sys.path
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, (
        f"the DagBag probe failed:\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}"
    )
    report: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    assert report["airflow_version"].startswith(f"{series}."), report["airflow_version"]
    _say(request.config, f"{series}: DagBag filled by Airflow {report['airflow_version']}")
    return report


def test_dags_import_without_error(dagbag: dict[str, Any]) -> None:
    assert dagbag["import_errors"] == {}
    assert dagbag["dag_ids"] == [DAG_ID]
    assert dagbag["dag_file_warnings"] == [], "the DAG file itself raised warnings (a deprecated import?)"


def test_schedule_runs_one_at_a_time_without_catchup(dagbag: dict[str, Any]) -> None:
    dag = dagbag["dag"]
    assert dag["schedule"] == "*/5 * * * *"
    assert "Cron" in dag["timetable"]
    assert dag["max_active_runs"] == 1
    assert dag["catchup"] is False
    assert "dbt source freshness" in dag["doc_md"]


def test_freshness_then_build_on_bigquery(dagbag: dict[str, Any]) -> None:
    tasks = dagbag["dag"]["tasks"]
    assert set(tasks) == {"dbt_source_freshness", "dbt_build"}
    freshness, build = tasks["dbt_source_freshness"], tasks["dbt_build"]
    assert freshness["downstream"] == ["dbt_build"]
    assert build["upstream"] == ["dbt_source_freshness"]
    assert freshness["upstream"] == [] and build["downstream"] == []
    assert " source freshness --target bigquery " in freshness["bash_command"]
    assert " build --target bigquery " in build["bash_command"]
    on_airflow_3 = dagbag["airflow_version"].startswith("3.")
    for task in tasks.values():
        assert task["operator"].endswith(".BashOperator")
        # Airflow 3 must get the standard provider's operator (core's is a deprecated alias there).
        assert task["operator"].startswith("airflow.providers.standard.") or not on_airflow_3
        assert task["append_env"] is True, "without append_env the task would lose PATH and the worker's env"
        assert task["retries"] >= 1 and 0 < task["retry_delay"] <= 120
        assert task["execution_timeout"] and task["execution_timeout"] <= 30 * 60
        # The project folder: Composer's mount of the bucket's data/dbt unless the Airflow Variable says otherwise.
        assert task["env_default"]["OLIST_DBT_PROJECT_DIR"] == COMPOSER_DBT_DIR
        assert task["env_variable"]["OLIST_DBT_PROJECT_DIR"] == "/from/the/variable"


def test_task_scripts_run_dbt_from_the_project_folder(dagbag: dict[str, Any], tmp_path: Path) -> None:
    """Each task's bash script, as the worker runs it, with a stand-in `dbt` recording its cwd, args and env."""
    project = tmp_path / "gcs data" / "dbt"  # a space: the script must quote its paths
    project.mkdir(parents=True)
    calls = tmp_path / "calls.jsonl"
    fake_dbt = tmp_path / "bin" / "dbt"
    fake_dbt.parent.mkdir()
    fake_dbt.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        f"with open({str(calls)!r}, 'a') as f:\n"
        "    f.write(json.dumps({'cwd': os.getcwd(), 'args': sys.argv[1:],"
        " 'project': os.environ.get('DBT_BIGQUERY_PROJECT')}) + '\\n')\n",
        encoding="utf-8",
    )
    fake_dbt.chmod(fake_dbt.stat().st_mode | stat.S_IXUSR)
    tasks = dagbag["dag"]["tasks"]
    for task_id in ("dbt_source_freshness", "dbt_build"):
        task = tasks[task_id]
        env = {
            "PATH": f"{fake_dbt.parent}:/usr/bin:/bin",
            "GCP_PROJECT": "composer-project",  # what the profile falls back to without DBT_BIGQUERY_PROJECT
            **task["env_default"],
            "OLIST_DBT_PROJECT_DIR": str(project),
        }
        completed = subprocess.run(
            ["bash", "-c", task["bash_command"]], env=env, cwd=tmp_path, capture_output=True, text=True, check=False
        )
        assert completed.returncode == 0, f"{task_id}: {completed.stderr}"
    recorded = [json.loads(line) for line in calls.read_text(encoding="utf-8").splitlines()]
    assert [call["args"][:3] for call in recorded] == [
        ["source", "freshness", "--target"],
        ["build", "--target", "bigquery"],
    ]
    # Production builds leave dbt's unit tests to CI (tests/dbt); freshness takes no such flag.
    freshness_args, build_args = (call["args"] for call in recorded)
    assert build_args[build_args.index("--exclude-resource-type") + 1] == "unit_test"
    assert "--exclude-resource-type" not in freshness_args
    for call in recorded:
        args = call["args"]
        assert call["cwd"] == str(project)
        assert args[args.index("--target") + 1] == "bigquery"
        assert args[args.index("--profiles-dir") + 1] == str(project)  # dbt/profiles.yml, uploaded with it
        assert args[args.index("--project-dir") + 1] == str(project)
        # Artifacts and logs in a temporary folder, never in the bucket's mount, and removed afterwards.
        for flag in ("--target-path", "--log-path"):
            path = Path(args[args.index(flag) + 1])
            assert not path.is_relative_to(project) and not path.parent.exists()
        assert call["project"] == "composer-project"
