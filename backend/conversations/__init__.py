"""Conversation transcripts: every customer, bot, agent and system message, in order.

The interface the widget's transport shares with the agent console: `ChatMessage`,
`record_message`, `conversation_history`, `offered_buttons`, `recent_conversations`.
"""

from backend.conversations.models import ChatMessage, Sender
from backend.conversations.service import (
    conversation_history,
    offered_buttons,
    recent_conversations,
    record_message,
)

__all__ = [
    "ChatMessage",
    "Sender",
    "conversation_history",
    "offered_buttons",
    "recent_conversations",
    "record_message",
]
