"""State the platform shares across worker processes (see `state.py`)."""
