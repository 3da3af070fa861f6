"""CRM intelligence: customer value tiers, churn risk and the satisfaction index (README.md)."""
