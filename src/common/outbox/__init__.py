"""The transactional outbox, whatever it delivers: rows written in the transaction of the change they
come from, delivered by a background worker until acknowledged (claimed under a lease, retried with
capped exponential backoff and jitter, across restarts). The Order service delivers stock releases to
the Product service with it, and both services publish integration events with it."""
