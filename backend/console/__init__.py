"""What the agent console shows: customer search, the customer 360 view, the call assist."""
