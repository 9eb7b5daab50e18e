"""Business logic: plain functions over a session, ids and values."""
