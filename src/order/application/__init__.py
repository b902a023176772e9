"""Use cases (commands, queries, handlers), the product client port and the release outbox."""
