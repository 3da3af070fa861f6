"""Feedback after every delivery: invitations, answers, relationship sampling and figures."""
