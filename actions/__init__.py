"""Custom actions of the Parcelline assistant, served by the rasa-sdk action server.

Each module covers one capability and stays thin: read slots, call the customer store,
answer. Run with ``python -m rasa_sdk --actions actions`` from the repository root.
"""
