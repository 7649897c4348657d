"""Clients and server cannot drift apart: every call a client of ours makes (the CLI and the
Python client over gRPC, the load tests over HTTP, the WebSocket's parameters) exists on the
server with the same shape. The sources are the proto (its descriptors) and the app's OpenAPI
document; a renamed endpoint, method or field on either side fails here. (That the running gRPC
server implements every method of the proto: test_grpc_stream.py; /v1/stream, a WebSocket route
that OpenAPI does not list: test_stream_websocket.py.)"""

from __future__ import annotations

import dataclasses

import pytest

from loadtests.workload import FEATURES_NAME, MODELS_PATH, PREDICT_PATH
from mdc.client import _METHODS as CLIENT_METHODS
from mdc.client import KINDS, Request
from mdc.v1 import market_data_pb2 as pb
from mdc.v1 import market_data_pb2_grpc as pb_grpc
from serve.ab import ABRouter
from serve.app import build_app
from serve.auth import KeyRing
from serve.jsonapi import HEALTH_PATH
from serve.streaming import grpc_server
from serve.streaming.websocket import FIELDS as WEBSOCKET_FIELDS
from tests.unit.test_serve_doubles import DictFeatureSource, LinearModel

SERVICE = pb.DESCRIPTOR.services_by_name["MarketDataService"]


def test_the_server_and_the_stubs_name_the_proto_service():
    assert grpc_server.SERVICE == SERVICE.full_name == "mdc.v1.MarketDataService"
    stub = pb_grpc.MarketDataServiceStub.__init__.__code__.co_names
    for method in SERVICE.methods:
        assert method.name in stub


@pytest.mark.parametrize("kind", KINDS)
def test_each_client_subscription_sends_the_request_its_method_takes(kind):
    method = SERVICE.methods_by_name[CLIENT_METHODS[kind]]
    assert method.server_streaming and not method.client_streaming
    message = Request(kind).message(None)
    assert message.DESCRIPTOR is method.input_type
    assert method.output_type is pb.EventBatch.DESCRIPTOR


def test_the_client_covers_every_streaming_subscription_of_the_proto():
    subscribing = {m.name for m in SERVICE.methods if m.name.startswith("Subscribe")}
    assert set(CLIENT_METHODS.values()) == subscribing


def test_the_server_answers_each_method_with_the_messages_the_proto_says():
    service = grpc_server.MarketDataService.__new__(grpc_server.MarketDataService)
    handler = service.handler()
    served = handler._method_handlers  # the generic handler's table: name -> handler
    assert set(served) == {f"/{SERVICE.full_name}/{m.name}" for m in SERVICE.methods}
    for method in SERVICE.methods:
        entry = served[f"/{SERVICE.full_name}/{method.name}"]
        request_class = getattr(pb, method.input_type.name)
        assert entry.request_deserializer == request_class.FromString, method.name
        assert entry.response_streaming == method.server_streaming, method.name


def _app():
    router = ABRouter(LinearModel("v1"), LinearModel("v2"), 0.0)
    return build_app(router, DictFeatureSource({}), KeyRing(["k"]), store_dir="unused")


def test_every_http_call_of_the_load_tests_is_in_the_openapi_document():
    paths = _app().openapi()["paths"]
    used = {
        (PREDICT_PATH, "post"),
        (MODELS_PATH, "get"),
        (FEATURES_NAME, "get"),
        (HEALTH_PATH, "get"),
    }
    for path, verb in used:
        assert verb in paths.get(path, {}), (path, verb, sorted(paths))


def test_graphql_takes_queries_by_post_as_the_clients_send_them():
    assert "post" in _app().openapi()["paths"]["/graphql"]


def test_the_websocket_takes_the_python_clients_subscription_fields():
    client_fields = {f.name for f in dataclasses.fields(Request)}
    renamed = {"type": "kind", "from": "start"}
    for name in WEBSOCKET_FIELDS:
        if name != "api_key":
            assert renamed.get(name, name) in client_fields, name
    assert client_fields <= {renamed.get(n, n) for n in WEBSOCKET_FIELDS}
