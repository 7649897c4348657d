"""Ray actors and the I/O shells they run: providers, books, the storage writer, the supervisor."""
