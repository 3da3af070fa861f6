"""HTTP face of the backend: the conversation gateway, the tracking view and health checks."""
