"""Agent availability: each agent's state, since when and why."""
