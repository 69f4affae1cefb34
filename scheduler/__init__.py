"""APScheduler jobs that drive the engine without a person: timers, service tasks and the outbox."""
