"""One router module per resource (STYLE: FastAPI template)."""
