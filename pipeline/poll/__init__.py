"""Feed polling: the registry users edit, per-feed state, scheduling, and the poll loop."""
