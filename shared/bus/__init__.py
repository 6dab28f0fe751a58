"""The event bus: transactional outbox, relay, consumer runner, inbox, dead letters, trace headers."""
