"""HTTP and WebSocket edge of the live assist service (FastAPI)."""
