"""Countdown: data source and solver, answer reward, solver traces."""
