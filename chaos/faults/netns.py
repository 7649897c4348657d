"""A network namespace joined to the host by a veth pair: servers started inside it (the simulator,
an echo server) are reached from the host at `ns_ip`, over an interface a fault can cut.

Names carry a random tag and the `chx`/`chaos` prefixes, addresses are a random /30 in 10.231/16,
so suites running side by side do not collide. Only iproute2 is needed. Deleting the namespace
removes the veth pair with it; `delete()` is idempotent and runs in `__exit__`.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass

from chaos.faults.base import FaultSetupError

SUBNET = "10.231"
ATTEMPTS = 5


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise FaultSetupError(f"ip {' '.join(args)} failed: {done.stderr.strip()}")
    return done


@dataclass(frozen=True)
class Netns:
    name: str
    host_if: str
    ns_if: str
    host_ip: str
    ns_ip: str

    @classmethod
    def create(cls) -> Netns:
        """A fresh namespace with the veth pair up and lo up; needs root."""
        if os.geteuid() != 0:
            raise FaultSetupError("creating a network namespace needs root")
        for _ in range(ATTEMPTS):
            tag = os.urandom(3).hex()
            a, b = os.urandom(2)
            netns = cls(f"chaos_{tag}", f"chx{tag}h", f"chx{tag}n",
                        f"{SUBNET}.{a}.{b & 0xFC | 1}", f"{SUBNET}.{a}.{b & 0xFC | 2}")  # fmt: skip
            if not netns._subnet_in_use():
                netns._build()
                return netns
        raise FaultSetupError(f"no free /30 in {SUBNET}.0.0/16 after {ATTEMPTS} tries")

    def _subnet_in_use(self) -> bool:
        prefix = self.host_ip.rsplit(".", 1)[0] + "."
        return prefix in ip("-o", "-4", "addr", "show").stdout

    def _build(self) -> None:
        ip("netns", "add", self.name)
        try:
            ip("link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if,
               "netns", self.name)  # fmt: skip
            ip("addr", "add", f"{self.host_ip}/30", "dev", self.host_if)
            ip("link", "set", self.host_if, "up")
            ip("-n", self.name, "addr", "add", f"{self.ns_ip}/30", "dev", self.ns_if)
            ip("-n", self.name, "link", "set", self.ns_if, "up")
            ip("-n", self.name, "link", "set", "lo", "up")
        except FaultSetupError:
            self.delete()
            raise

    def exec_argv(self, argv: list[str]) -> list[str]:
        """`argv` run inside the namespace (e.g. for subprocess.Popen)."""
        return ["ip", "netns", "exec", self.name, *argv]

    def delete(self) -> None:
        ip("netns", "del", self.name, check=False)
        ip("link", "del", self.host_if, check=False)

    def exists(self) -> bool:
        return self.name in ip("netns", "list").stdout.split()

    def __enter__(self) -> Netns:
        return self

    def __exit__(self, *exc: object) -> None:
        self.delete()
