"""Benchmarks. Each writes its figures, with the command that produced them, to BENCHMARKS.md."""
