"""Application wiring for careplace: configuration, database set-up and the command line."""
