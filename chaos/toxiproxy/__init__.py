"""A Toxiproxy-compatible server (HTTP API 2.12.0) with sans-I/O toxics.

Use `ToxiproxyServer` inside an event loop, or `start_in_thread()` from sync code; drive it
with the standard `toxiproxy-python` client or plain HTTP (specs/toxiproxy-api.md).
"""

from chaos.toxiproxy.server import ServerThread, ToxiproxyServer, start_in_thread

__all__ = ["ServerThread", "ToxiproxyServer", "start_in_thread"]
