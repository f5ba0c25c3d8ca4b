"""Countdown: its Task (task.py), data source and solver, answer reward, solver traces."""
