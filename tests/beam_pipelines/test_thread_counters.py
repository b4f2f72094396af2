"""Counters incremented in threads of ours (the ack sender, the pull prefetcher) reach Beam's counters: Beam
alone drops them silently, having no metrics container outside a bundle's thread."""

from __future__ import annotations

import threading

import apache_beam as beam
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions

from beam_pipelines import metrics

COUNTER = "test_thread_counters_counted"


class CountsInAThread(beam.DoFn):
    """Counts each element from a thread of its own, as the ack sender counts failed acks."""

    def process(self, element):
        thread = threading.Thread(target=lambda: metrics.counter(COUNTER).inc(element))
        thread.start()
        thread.join()
        yield element

    def finish_bundle(self):
        metrics.report_pending()


def test_counts_made_in_a_thread_reach_beam_once_a_bundle_reports_them():
    pipeline = beam.Pipeline(options=PipelineOptions(["--runner", "FnApiRunner"]))
    _ = pipeline | beam.Create([1, 2, 3, 4], reshuffle=False) | beam.ParDo(CountsInAThread())
    result = pipeline.run()
    result.wait_until_finish()
    (counter,) = result.metrics().query(MetricsFilter().with_name(COUNTER))["counters"]
    assert counter.committed == 10
    assert metrics.take_pending() == {}  # reported, not left waiting


def test_counts_outside_a_bundle_wait_until_a_bundle_reports_them():
    metrics.take_pending()
    thread = threading.Thread(target=lambda: metrics.counter(COUNTER).inc(5))
    thread.start()
    thread.join()
    assert metrics.take_pending() == {COUNTER: 5}
