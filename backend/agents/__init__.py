"""Agent and manager accounts of the console: hashed passwords, sessions, lockout."""
