"""Threadline's benchmark suite: ``python bench/run.py [--quick]`` (see BENCHMARKS.md)."""
