"""ParseAndValidate: messages -> valid order snapshots, and dead letters saying exactly what was wrong."""

from __future__ import annotations

import apache_beam as beam
from apache_beam import pvalue

from beam_pipelines import metrics
from beam_pipelines.dead_letters import dead_letter, internal_error
from beam_pipelines.messages import DEAD_LETTER, OrderSnapshot, ReceivedMessage
from schemas.validation import STAGE_PARSE, EventValidator

VALID = "valid"


class ParseAndValidateFn(beam.DoFn):
    def __init__(self, versions: tuple[int, ...] | None = None) -> None:
        super().__init__()
        self.versions = versions

    def setup(self) -> None:
        self.validator = EventValidator(self.versions)  # compiles the schemas once per worker
        self.valid = metrics.counter(metrics.VALID)
        self.invalid = metrics.counter(metrics.INVALID)
        self.flagged = metrics.counter(metrics.FLAGGED)

    def process(self, message: ReceivedMessage):
        try:
            result = self.validator.validate_payload(message.data, message.attributes)
            if result.ok:
                self.valid.inc()
                for flag in result.quality_flags:
                    metrics.counter(f"{metrics.QUALITY_PREFIX}{flag}").inc()
                if result.quality_flags:
                    self.flagged.inc()
                yield OrderSnapshot(result.event, message, result.quality_flags, result.timestamps)
                return
            first = result.first_error
            record = dead_letter(message, first.stage, first.kind, result.error_message(), first.path, first.stacktrace)
            kind = first.kind
        except Exception as error:  # never let one message stop the pipeline
            record, kind = internal_error(message, STAGE_PARSE, error), "internal_error"
        self.invalid.inc()
        metrics.counter(f"invalid_{kind}").inc()
        yield pvalue.TaggedOutput(DEAD_LETTER, record)


class ParseAndValidate(beam.PTransform):
    """PCollection[ReceivedMessage] -> {valid: PCollection[OrderSnapshot], dead_letter: PCollection[DeadLetter]}.

    Every message comes out on exactly one of the two outputs, so messages in = valid + dead-lettered.
    ``versions``: the schema versions accepted (default all; see --schema_versions).
    """

    def __init__(self, versions: tuple[int, ...] | None = None) -> None:
        super().__init__()
        self.versions = versions

    def expand(self, messages):
        validate = ParseAndValidateFn(self.versions)
        return messages | "Validate" >> beam.ParDo(validate).with_outputs(DEAD_LETTER, main=VALID)
