"""Replication, the sans-I/O part: a follower store applies a primary's WAL records as they
came (`apply`), knows which epoch it belongs to and refuses older ones (`epochs`), and measures
how far behind it is (`lag`). The gRPC primary and follower shells are in serve/replication/."""
