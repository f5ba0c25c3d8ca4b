"""Chinese general questions: its Task (task.py), data source and the LLM-judge rewards."""
