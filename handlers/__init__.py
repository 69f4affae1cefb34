"""Service-task handlers for the outside systems, their topic registry and local simulators of those systems."""
