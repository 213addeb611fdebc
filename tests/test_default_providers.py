"""The default-providers judge: a resource without an explicit provider, of a package whose
default provider the stack disables, is what the engine refuses."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from slipway.judges import default_providers as dp


def record(type_: str, provider: str = "", custom: bool = True) -> dict[str, Any]:
    return {
        "urn": f"urn:pulumi:s::p::{type_}::x",
        "type": type_,
        "provider": provider,
        "custom": custom,
    }


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"pulumi:disable-default-providers": ["*"]}, {"*"}),
        ({"pulumi:disable-default-providers": '["random", "aws"]'}, {"random", "aws"}),
        ({"pulumi:disable-default-providers": "kubernetes"}, {"kubernetes"}),
        ({}, set()),
    ],
)
def test_disabled_packages_read_as_the_stack_file_writes_them(
    config: dict[str, Any], expected: set[str]
) -> None:
    assert dp.disabled_packages(config) == expected


def test_a_resource_without_provider_of_a_disabled_package_is_found() -> None:
    found = dp.judge([record("random:index/randomPassword:RandomPassword")], {"*"})
    assert [f.package for f in found] == ["random"]
    assert "pulumi:disable-default-providers" in str(found[0])
    assert dp.judge([record("random:index/randomPassword:RandomPassword")], {"random"})


def test_explicit_providers_builtins_components_and_enabled_packages_pass() -> None:
    records = [
        record("random:index/randomPassword:RandomPassword", provider="urn:p::id"),
        record("pulumi:pulumi:StackReference"),
        record("slipway:stacks:Target", custom=False),
        record("aws:s3/bucket:Bucket"),
    ]
    assert dp.judge(records, {"random"}) == []
    assert dp.judge(records[:3], {"*"}) == []


@pytest.mark.parametrize("stack", ["dev", "staging-platform", "staging", "prod-platform", "prod"])
def test_real_stacks_name_a_provider_for_everything(
    stacks: dict[str, list[dict[str, Any]]], stack: str
) -> None:
    assert dp.judge(stacks[stack], {"*"}) == []


def test_dropping_a_real_provider_is_caught(stacks: dict[str, list[dict[str, Any]]]) -> None:
    records = copy.deepcopy(stacks["dev"])
    password = next(r for r in records if r["type"].startswith("random:"))
    password["provider"] = ""
    assert [f.urn for f in dp.judge(records, {"*"})] == [password["urn"]]
