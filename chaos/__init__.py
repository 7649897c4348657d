"""Chaos suite (Toxiproxy-compatible server, fault injectors, scenarios): the chaos issue."""
