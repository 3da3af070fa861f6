"""The chat transcript: every customer, bot, agent and system message of a conversation."""
