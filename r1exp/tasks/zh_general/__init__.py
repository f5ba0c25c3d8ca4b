"""Chinese general questions: data source and the LLM-judge rewards."""
