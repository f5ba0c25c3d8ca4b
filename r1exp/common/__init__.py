"""Pieces shared by every task, below them in the layers: registry, JSONL, splits, answers, arithmetic."""
