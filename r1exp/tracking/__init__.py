"""What a run leaves behind: metrics.jsonl, samples.jsonl, manifest.json, checkpoints, plots."""
