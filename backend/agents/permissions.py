"""Who may act on another agent's work: the contact centre's rules, in one place.

- Reading is open to every signed-in agent: any agent may read any transcript, handoff or
  complaint ticket (a shift change, a customer calling back, a supervisor listening in).
- A held handoff is worked by the agent holding it: only that agent or a manager may reply in
  it, hand it back to the bot or close it (a manager steps in when the holder is gone).
- A complaint ticket assigned to an agent is changed (status, notes, resolution) only by that
  agent or a manager; an unassigned ticket by any agent. An agent may take an unassigned ticket
  for themselves; only a manager gives a ticket to someone else or takes it off its owner.
- An agent's account endpoints show that agent's own session and nobody else's.
"""

from __future__ import annotations

from backend.agents.models import Role
from backend.agents.service import Identity


def is_manager(identity: Identity) -> bool:
    return identity.role is Role.manager


def may_work_handoff(identity: Identity, holder_agent_id: int | None) -> bool:
    """Reply in, hand back or close a held conversation."""
    return holder_agent_id == identity.agent_id or is_manager(identity)


def may_change_ticket(identity: Identity, owner_agent_id: int | None) -> bool:
    """Change the status of, add a note to, or resolve a complaint ticket."""
    return owner_agent_id in (None, identity.agent_id) or is_manager(identity)


def may_assign_ticket(identity: Identity, owner_agent_id: int | None, to_agent_id: int) -> bool:
    """Give a ticket (now owned by `owner_agent_id`, or nobody) to the account `to_agent_id`."""
    if is_manager(identity):
        return True
    return to_agent_id == identity.agent_id and owner_agent_id in (None, identity.agent_id)
