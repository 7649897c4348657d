"""Alert rules and their sans-I/O evaluator (the seed's real-time alerting engine)."""
