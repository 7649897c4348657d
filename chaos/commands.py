"""`mdc chaos <sub>`: the chaos suite's commands, one small register/run pair per subcommand.

To add a subcommand, write `register_<sub>(chaos_subparsers)` and list it in `SUBCOMMANDS`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any


def register_chaos(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "chaos",
        help="chaos suite: a Toxiproxy-compatible server, fault scenarios",
        description=(
            "Chaos tools. Run `mdc chaos SUBCOMMAND --help` for each one. `mdc chaos run` "
            "writes chaos-report.json, chaos-report.md and chaos-report.html (with PNG charts)."
        ),
    )
    chaos_subparsers = parser.add_subparsers(
        dest="chaos_command", metavar="SUBCOMMAND", required=True
    )
    for register in SUBCOMMANDS:
        register(chaos_subparsers)


def register_proxy(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "proxy",
        help="run a Toxiproxy-compatible server (HTTP API 2.12.0) until Ctrl-C",
        description=(
            "Serve the Toxiproxy HTTP API so the standard clients (toxiproxy-python, "
            "toxiproxy-cli) can create TCP proxies and add toxics: latency, bandwidth, "
            "slow_close, timeout, reset_peer, slicer, limit_data, noop, plus any registered "
            "under the `mdc.toxics` entry-point group. Proxies listen on loopback unless told "
            "otherwise; upstreams are not restricted (the test suite only uses loopback). "
            "Runs until Ctrl-C."
        ),
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="API listen address (default: 127.0.0.1)"
    )
    parser.add_argument(
        "--port", type=int, default=8474, help="API port; 0 picks a free one (default: 8474)"
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE",
        help=(
            "JSON array of proxies to create at startup, as for POST /populate: "
            '[{"name": "web", "listen": "127.0.0.1:26379", "upstream": "127.0.0.1:6379"}]'
        ),
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed for toxicity rolls, jitter and slicing (default: unseeded)",
    )
    parser.set_defaults(func=run_proxy)


def register_run(subparsers: Any) -> None:
    from chaos.scenarios.commands import register_run as register

    register(subparsers)


SUBCOMMANDS: tuple[Callable[[Any], None], ...] = (register_proxy, register_run)


def run_proxy(args: argparse.Namespace) -> int:
    proxies = _read_config(args.config) if args.config is not None else []
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_proxy(args.host, args.port, args.seed, proxies))
    return 0


def _read_config(path: Path) -> list[Any]:
    from chaos.toxiproxy.errors import BadProxyConfig

    try:
        items = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadProxyConfig(f"--config {path}: {exc}") from None
    if not isinstance(items, list):
        raise BadProxyConfig(f"--config {path}: expected a JSON array of proxies")
    return items


async def _serve_proxy(host: str, port: int, seed: int | None, proxies: list[Any]) -> None:
    from chaos.toxiproxy import ToxiproxyServer
    from chaos.toxiproxy.errors import BadProxyConfig, ToxiproxyError

    server = ToxiproxyServer(host, port, seed)
    await server.start()
    try:
        try:
            created = await server.populate(proxies)
        except ToxiproxyError as exc:
            raise BadProxyConfig(f"--config: {exc.message}") from None
        print(f"toxiproxy API on {server.url}", flush=True)
        for proxy in created:
            print(f"proxy {proxy.name}: {proxy.listen} -> {proxy.upstream}", flush=True)
        await asyncio.Event().wait()
    finally:
        await server.stop()
