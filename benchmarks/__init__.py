"""Benchmarks that print figures against a floor (README: Scale)."""
