"""Benchmarks at London scale: a data generator, ingest and page timings (bench/RESULTS.md)."""
