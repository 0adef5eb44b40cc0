"""Benchmark harness: synthetic organization, real server, wrk loads, JSON + Markdown report."""
