"""The committed stubs are what the pinned grpcio-tools makes of the committed proto: a changed
.proto without regenerated stubs (or hand-edited stubs) fails here."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _generator():
    spec = importlib.util.spec_from_file_location("gen_proto", ROOT / "scripts" / "gen_proto.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_stubs_match_the_proto(tmp_path):
    _generator().generate(tmp_path)
    made = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*_pb2*"))
    assert [str(p) for p in made] == [
        "mdc/v1/market_data_pb2.py",
        "mdc/v1/market_data_pb2.pyi",
        "mdc/v1/market_data_pb2_grpc.py",
        "mdc/v1/replication_pb2.py",
        "mdc/v1/replication_pb2.pyi",
        "mdc/v1/replication_pb2_grpc.py",
    ]
    for rel in made:
        assert (ROOT / rel).read_bytes() == (tmp_path / rel).read_bytes(), f"{rel} is stale"


def test_the_stubs_name_the_service_the_clients_call():
    from mdc.v1 import market_data_pb2 as pb

    service = pb.DESCRIPTOR.services_by_name["MarketDataService"]
    assert service.full_name == "mdc.v1.MarketDataService"
    assert {m.name for m in service.methods} >= {
        "SubscribeTrades",
        "SubscribeQuotes",
        "SubscribeDepth",
        "GetHistoricalBars",
        "SubscribeBars",
        "GetBook",
    }
    assert "mdc.v1" in sys.modules["mdc.v1.market_data_pb2"].DESCRIPTOR.package
