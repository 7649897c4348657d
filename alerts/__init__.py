"""The alert actor (a follower of the durable log) and notification delivery."""
