"""The plugin's answers to the engine, through its gRPC servicer (no engine, no API): DiffConfig says
DIFF_SOME for a changed key, URL, timeout or retry window and DIFF_NONE otherwise, and never asks for
a replacement; Diff says DIFF_SOME (with a replacement) or DIFF_NONE for a webhook."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from google.protobuf import struct_pb2
from pulumi.provider.experimental.property_value import PropertyValue
from pulumi.provider.experimental.provider import ConfigureRequest, DiffRequest
from pulumi.runtime.proto import provider_pb2
from pulumi.runtime.rpc import UNKNOWN

from pulumi_copyai.plugin import server
from pulumi_copyai.plugin.provider import CopyAIProvider
from pulumi_copyai.plugin.server import _Servicer

PROVIDER_URN = "urn:pulumi:dev::pkg::pulumi:providers:copyai::default"
WEBHOOK_URN = "urn:pulumi:dev::pkg::copyai:index:Webhook::hook"
CONFIG = {"apiKey": "key-1", "baseUrl": "http://127.0.0.1:9/api", "timeoutSeconds": "30", "retryWindowSeconds": "60"}
NONE, SOME = provider_pb2.DiffResponse.DIFF_NONE, provider_pb2.DiffResponse.DIFF_SOME
REPLACE_KINDS = {provider_pb2.PropertyDiff.ADD_REPLACE, provider_pb2.PropertyDiff.DELETE_REPLACE,
                 provider_pb2.PropertyDiff.UPDATE_REPLACE}


@pytest.fixture
def servicer() -> _Servicer:
    return _Servicer([], "0.0.0-test", CopyAIProvider(), engine_address="127.0.0.1:1")


def struct(values: dict[str, Any]) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    out.update(values)
    return out


def diff_config(servicer: _Servicer, olds: dict[str, Any], news: dict[str, Any],
                ignore: tuple[str, ...] = ()) -> Any:
    request = provider_pb2.DiffRequest(urn=PROVIDER_URN, id="provider-id", olds=struct(olds), news=struct(news),
                                       ignoreChanges=list(ignore))
    return asyncio.run(servicer.DiffConfig(request, None))


@pytest.mark.parametrize("key", list(CONFIG))
def test_diff_config_says_some_for_each_changed_key_and_replaces_nothing(servicer: _Servicer, key: str) -> None:
    answer = diff_config(servicer, CONFIG, {**CONFIG, key: "changed"})
    assert answer.changes == SOME, "the engine would keep the provider configured with the old inputs"
    assert list(answer.diffs) == [key]
    assert list(answer.replaces) == [] and not answer.deleteBeforeReplace
    assert answer.hasDetailedDiff and set(answer.detailedDiff) == {key}
    assert answer.detailedDiff[key].kind == provider_pb2.PropertyDiff.UPDATE


def test_diff_config_says_none_without_changes(servicer: _Servicer) -> None:
    answer = diff_config(servicer, CONFIG, dict(CONFIG))
    assert answer.changes == NONE
    assert list(answer.diffs) == [] and list(answer.replaces) == [] and dict(answer.detailedDiff) == {}
    # an unrelated input (the engine filters `version` out, but another one) changes nothing either
    assert diff_config(servicer, CONFIG, {**CONFIG, "unrelated": "x"}).changes == NONE


def test_diff_config_with_every_key_changed_added_or_removed(servicer: _Servicer) -> None:
    answer = diff_config(servicer, CONFIG, {"apiKey": "key-2", "baseUrl": "https://api.copy.ai/api"})
    assert answer.changes == SOME
    assert set(answer.diffs) == set(CONFIG) and list(answer.replaces) == []
    assert not any(d.kind in REPLACE_KINDS for d in answer.detailedDiff.values())
    assert diff_config(servicer, {}, CONFIG).changes == SOME


def test_diff_config_an_unknown_input_is_a_change(servicer: _Servicer) -> None:
    answer = diff_config(servicer, CONFIG, {**CONFIG, "apiKey": UNKNOWN})
    assert answer.changes == SOME and list(answer.diffs) == ["apiKey"] and list(answer.replaces) == []


def test_diff_config_honours_ignore_changes(servicer: _Servicer) -> None:
    assert diff_config(servicer, CONFIG, {**CONFIG, "apiKey": "key-2"}, ignore=("apiKey",)).changes == NONE


def test_the_provider_diff_config_itself() -> None:
    provider = CopyAIProvider()
    olds = {k: PropertyValue(v) for k, v in CONFIG.items()}
    changed = asyncio.run(provider.diff_config(DiffRequest(PROVIDER_URN, "id", olds,
                                                           {**olds, "baseUrl": PropertyValue("x")}, [])))
    assert changed.changes is True and changed.diffs == ["baseUrl"] and not changed.replaces
    same = asyncio.run(provider.diff_config(DiffRequest(PROVIDER_URN, "id", olds, dict(olds), [])))
    assert same.changes is False and not same.diffs


def test_diff_changes_maps_each_answer() -> None:
    assert server.diff_changes(True) == SOME and server.diff_changes(False) == NONE
    assert server.diff_changes(None) == provider_pb2.DiffResponse.DIFF_UNKNOWN


def test_a_webhook_diff_says_some_with_a_replacement_or_none(servicer: _Servicer) -> None:
    olds = {"url": "https://hooks.example.com/a", "eventType": "workflowRun.completed"}

    def diff(news: dict[str, Any]) -> Any:
        request = provider_pb2.DiffRequest(urn=WEBHOOK_URN, id="hook-id", olds=struct(olds), news=struct(news))
        return asyncio.run(servicer.Diff(request, None))

    changed = diff({**olds, "url": "https://hooks.example.com/b"})
    assert changed.changes == SOME and list(changed.replaces) == ["url"]
    assert changed.detailedDiff["url"].kind == provider_pb2.PropertyDiff.UPDATE_REPLACE
    same = diff(dict(olds))
    assert same.changes == NONE and list(same.replaces) == []


def test_configure_applies_the_new_inputs() -> None:
    provider = CopyAIProvider()
    for key, timeout in (("key-1", 30.0), ("key-2", 5.0)):
        args = {"apiKey": PropertyValue(key, is_secret=True), "baseUrl": PropertyValue("http://127.0.0.1:9/api"),
                "timeoutSeconds": PropertyValue(timeout), "skipCredentialsCheck": PropertyValue(True)}
        asyncio.run(provider.configure(ConfigureRequest({}, args, True, False)))
        assert provider.settings.api_key == key and provider.settings.timeout == timeout
