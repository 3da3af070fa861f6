"""Developer tooling: environment set-up, model training and the process stack."""
