"""Integration events: what the aggregates raised, written to an outbox in the transaction of the change
(``recording``), published to RabbitMQ by the outbox's delivery (``publication``, ``amqp``)."""
