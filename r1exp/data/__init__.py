"""Data sources and prompt templates."""
