"""Partition the host from a network namespace (chaos.faults.netns.Netns), inside the namespace:

- `link_down`: its end of the veth goes down; established and new connections time out.
- `blackhole`: a blackhole route to the host's address; replies vanish, the host times out.
- `drop`: a firewall DROP on the namespace's veth with nft, else iptables; when neither is
  installed it falls back to `blackhole` (the record's detail names the method used).
Heal undoes exactly what was done; traffic recovers at once.
"""

from __future__ import annotations

import shutil
import subprocess

from chaos.faults.base import Applied, BaseFault, FaultContext, FaultSetupError, check_param
from chaos.faults.netns import Netns, ip

METHODS = ("link_down", "blackhole", "drop")
NFT_TABLE = "chaos_partition"


class NetnsPartition(BaseFault):
    name = "netns_partition"
    kind = "network"

    def __init__(self, *, method: str = "link_down") -> None:
        super().__init__()
        check_param(method in METHODS, self.name, f"method must be one of {METHODS}")
        self.method = method
        self._used: str | None = None
        self._netns: Netns | None = None

    def _apply(self, ctx: FaultContext) -> Applied:
        netns: Netns = ctx.require("netns", "netns_partition cuts a namespace created for it")
        used = _available(self.method)
        _CUT[used](netns)
        self._used, self._netns = used, netns
        return Applied(netns.name, {"method": used, "asked": self.method, "ns_ip": netns.ns_ip})

    def _undo(self, ctx: FaultContext) -> None:
        if self._used is not None and self._netns is not None and self._netns.exists():
            _MEND[self._used](self._netns)


def _available(method: str) -> str:
    if method != "drop":
        return method
    for tool in ("nft", "iptables"):
        if shutil.which(tool):
            return tool
    return "blackhole"


def _in_ns(netns: Netns, argv: list[str], stdin: str = "") -> None:
    done = subprocess.run(
        netns.exec_argv(argv), input=stdin, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise FaultSetupError(f"{' '.join(argv)} in {netns.name} failed: {done.stderr.strip()}")


def _nft_rules(netns: Netns) -> str:
    return (
        f"table inet {NFT_TABLE} {{ chain in {{ type filter hook input priority 0; "
        f'policy accept; iifname "{netns.ns_if}" drop; }} }}'
    )


_CUT = {
    "link_down": lambda n: ip("-n", n.name, "link", "set", n.ns_if, "down"),
    "blackhole": lambda n: ip("-n", n.name, "route", "add", "blackhole", f"{n.host_ip}/32"),
    "nft": lambda n: _in_ns(n, ["nft", "-f", "-"], _nft_rules(n)),
    "iptables": lambda n: _in_ns(n, ["iptables", "-I", "INPUT", "-i", n.ns_if, "-j", "DROP"]),
}
_MEND = {
    "link_down": lambda n: ip("-n", n.name, "link", "set", n.ns_if, "up"),
    "blackhole": lambda n: ip("-n", n.name, "route", "del", "blackhole", f"{n.host_ip}/32"),
    "nft": lambda n: _in_ns(n, ["nft", "delete", "table", "inet", NFT_TABLE]),
    "iptables": lambda n: _in_ns(n, ["iptables", "-D", "INPUT", "-i", n.ns_if, "-j", "DROP"]),
}
