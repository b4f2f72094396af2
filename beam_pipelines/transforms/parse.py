"""ParseAndValidate: messages -> valid order snapshots, and dead letters saying exactly what was wrong."""

from __future__ import annotations

import apache_beam as beam
from apache_beam import pvalue
from apache_beam.metrics import Metrics

from beam_pipelines.messages import DEAD_LETTER, OrderSnapshot, ReceivedMessage, dead_letter
from schemas.validation import EventValidator

VALID = "valid"


class ParseAndValidateFn(beam.DoFn):
    def setup(self) -> None:
        self.validator = EventValidator()  # compiles the schemas once per worker
        self.valid = Metrics.counter("ParseAndValidate", "valid")
        self.invalid = Metrics.counter("ParseAndValidate", "invalid")

    def process(self, message: ReceivedMessage):
        result = self.validator.validate_payload(message.data, message.attributes)
        if result.ok:
            self.valid.inc()
            yield OrderSnapshot(result.event, message)
            return
        first = result.first_error
        self.invalid.inc()
        Metrics.counter("ParseAndValidate", f"invalid_{first.kind}").inc()
        yield pvalue.TaggedOutput(
            DEAD_LETTER,
            dead_letter(message, first.stage, first.kind, result.error_message(), first.path),
        )


class ParseAndValidate(beam.PTransform):
    """PCollection[ReceivedMessage] -> {valid: PCollection[OrderSnapshot], dead_letter: PCollection[DeadLetter]}.

    Every message comes out on exactly one of the two outputs, so messages in = valid + dead-lettered.
    """

    def expand(self, messages):
        return messages | "Validate" >> beam.ParDo(ParseAndValidateFn()).with_outputs(DEAD_LETTER, main=VALID)
