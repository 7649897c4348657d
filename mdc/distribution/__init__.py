"""Live distribution, transport-free: what a subscriber asked for (`subscription`), its bounded
queue and slow-consumer policy (`outbox`), the events' wire forms (`encode`) and the views made
from stored events (`views`: depth, bars). The gRPC and WebSocket servers are shells around it."""
