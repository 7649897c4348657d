"""Replication shells: the primary's log service (`server`), the follower process (`follower`)
and their commands (`mdc replicate`, `mdc promote`). The logic is in `mdc.replication`."""
