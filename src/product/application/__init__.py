"""Use cases (commands, queries, handlers) and the ports they need."""
