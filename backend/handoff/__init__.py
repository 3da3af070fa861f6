"""Human handoff: the queue of conversations waiting for an agent, and what happens to them."""
