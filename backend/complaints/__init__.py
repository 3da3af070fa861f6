"""Complaints and claims: tickets with their history, value tiers, SLA deadlines."""
