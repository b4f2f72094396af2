"""The whole flow on one machine: emulator, publisher, pipeline, reference data, dbt — `make demo`."""
