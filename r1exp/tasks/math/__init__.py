"""Math word problems: its Task (task.py), data source and the math-verify reward."""
