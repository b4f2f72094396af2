"""Guards on the FnApiRunner metrics-merge workaround (beam_pipelines/local_runner.py)."""

from __future__ import annotations

import inspect
import itertools

from apache_beam.metrics import monitoring_infos
from apache_beam.runners.portability.fn_api_runner import fn_runner

from beam_pipelines import local_runner


def _counter(value: int):
    return monitoring_infos.int64_user_counter("ns", "elements", value, ptransform="Step")


def test_run_stages_still_merges_through_the_patched_module_name():
    source = inspect.getsource(fn_runner.FnApiRunner.run_stages)
    assert "consolidate_monitoring_infos(" in source, "Beam changed how run_stages merges metrics: revisit the patch"
    assert fn_runner.consolidate_monitoring_infos in (monitoring_infos.consolidate, local_runner._eager_consolidate)


def _merge_like_run_stages(bundles: int):
    """What run_stages does once per bundle: consolidate(chain(new bundle's infos, running total))."""
    total = [_counter(1)]
    for _ in range(bundles):
        total = fn_runner.consolidate_monitoring_infos(itertools.chain([_counter(1)], total))
    return total


def test_stock_merge_is_a_lazy_chain_and_the_patched_one_stays_one_list():
    original = fn_runner.consolidate_monitoring_infos
    try:
        fn_runner.consolidate_monitoring_infos = monitoring_infos.consolidate
        assert inspect.isgenerator(_merge_like_run_stages(3))  # each bundle wraps the previous generator: the leak
        local_runner.patch_fn_runner_monitoring_leak()
        merged = _merge_like_run_stages(500)
        assert isinstance(merged, list) and len(merged) == 1
        assert monitoring_infos.extract_counter_value(merged[0]) == 501
    finally:
        fn_runner.consolidate_monitoring_infos = original
