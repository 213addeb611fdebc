"""The typed-inputs judge: real previews pass, planted defects are caught at the right path."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from slipway.engine import to_json_bytes
from slipway.judges import typed_inputs as ti
from tests.conftest import ALL_STACKS

Record = dict[str, Any]
CONTAINER = "spec.template.spec.containers[0]"
CLOUD = "prod-platform"
"""Where the cloud resources are: the platform stack builds network, clusters and registries."""
SERVICES = "prod"
"""Where the workloads are: the services stack on the platform's clusters."""
CRD = "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"


def first(records: list[Record], token: str) -> Record:
    return copy.deepcopy(next(r for r in records if r["type"] == token))


def _rename(obj: dict[str, Any], old: str, new: str) -> None:
    obj[new] = obj.pop(old)


def _container(r: Record) -> dict[str, Any]:
    return r["inputs"]["spec"]["template"]["spec"]["containers"][0]


# (what is planted, the stack whose record it is planted in, resource type, how, the path the
# finding must name)
DEFECTS: list[tuple[str, str, str, Callable[[Record], None], str]] = [
    (
        "misspelled nested key",
        CLOUD,
        "aws:eks/cluster:Cluster",
        lambda r: _rename(r["inputs"]["accessConfig"], "authenticationMode", "authenticationMod"),
        "accessConfig.authenticationMod",
    ),
    (
        "string where a list belongs",
        CLOUD,
        "aws:eks/cluster:Cluster",
        lambda r: r["inputs"].update(enabledClusterLogTypes="api"),
        "enabledClusterLogTypes",
    ),
    (
        "missing required property",
        CLOUD,
        "aws:ec2/subnet:Subnet",
        lambda r: r["inputs"].pop("vpcId"),
        "vpcId",
    ),
    (
        "list where an object belongs",
        CLOUD,
        "aws:ecr/repository:Repository",
        lambda r: r["inputs"].update(imageScanningConfiguration=[{"scanOnPush": True}]),
        "imageScanningConfiguration",
    ),
    (
        # not coerced: Kubernetes rejects it, and the bridge's coercion hides a typo
        "number where a string is required",
        CLOUD,
        "aws:ec2/vpc:Vpc",
        lambda r: r["inputs"].update(cidrBlock=10),
        "cidrBlock",
    ),
    (
        "unknown top-level property",
        CLOUD,
        "aws:ec2/vpc:Vpc",
        lambda r: r["inputs"].update(enableDnsHostname=True),
        "enableDnsHostname",
    ),
    (
        "bool as string",
        CLOUD,
        "aws:ec2/vpc:Vpc",
        lambda r: r["inputs"].update(enableDnsSupport="true"),
        "enableDnsSupport",
    ),
    (
        "misspelled key in a Kubernetes container",
        SERVICES,
        "kubernetes:apps/v1:Deployment",
        lambda r: _rename(_container(r), "image", "imagee"),
        f"{CONTAINER}.imagee",
    ),
    (
        "missing required nested property",
        SERVICES,
        "kubernetes:apps/v1:Deployment",
        lambda r: _container(r).pop("name"),
        f"{CONTAINER}.name",
    ),
    (
        "wrong type deep in a list",
        SERVICES,
        "kubernetes:apps/v1:Deployment",
        lambda r: _container(r)["ports"][0].update(containerPort="8080"),
        f"{CONTAINER}.ports[0].containerPort",
    ),
]


@pytest.mark.parametrize("stack", ALL_STACKS)
def test_real_previews_have_no_findings(stacks: dict[str, list[Record]], stack: str) -> None:
    assert [str(f) for f in ti.judge(stacks[stack])] == []


def test_every_resource_type_of_prod_is_judged(stacks: dict[str, list[Record]]) -> None:
    """Each cloud and core Kubernetes type of prod's two stacks resolves to its SDK Args;
    only CRDs fall back."""
    resolved = set()
    for r in stacks[CLOUD] + stacks[SERVICES]:
        if not ti.judged(r):
            continue
        if ti.args_class(r["type"]) is None:
            group = r["type"].split(":")[1]
            assert r["type"].startswith("kubernetes:") and "." in group, r["type"]
        else:
            resolved.add(r["type"])
    # both layers are judged: the platform's cloud resources and the services' workloads
    assert {"aws:eks/cluster:Cluster", "gcp:container/cluster:Cluster"} <= resolved
    assert {"kubernetes:apps/v1:Deployment", "aws:iam/role:Role"} <= resolved
    assert ti.args_class("aws:ec2/vpc:Vpc").__name__ == "VpcArgs"
    assert ti.args_class("kubernetes:apps/v1:Deployment").__name__ == "DeploymentInitArgs"


def test_planted_defects_are_caught_at_their_path(stacks: dict[str, list[Record]]) -> None:
    caught = []
    for what, stack, token, plant, path in DEFECTS:
        record = first(stacks[stack], token)
        plant(record)
        findings = ti.judge([record])
        if findings:
            # a finding somewhere else is a wrong answer, not a miss
            assert {(f.name, f.path) for f in findings} == {(record["name"], path)}, what
            caught.append(what)
    assert len(caught) >= 9, sorted({d[0] for d in DEFECTS} - set(caught))


def test_messages_say_what_was_expected(stacks: dict[str, list[Record]]) -> None:
    vpc = first(stacks[CLOUD], "aws:ec2/vpc:Vpc")
    vpc["inputs"].update(cidrBlock=10, enableDnsHostname=True)
    messages = {f.path: f.message for f in ti.judge([vpc])}
    assert messages["cidrBlock"] == "expected str, got a number (10)"
    assert "did you mean 'enableDnsHostnames'?" in messages["enableDnsHostname"]


def test_unknown_and_secret_values_pass_any_type(stacks: dict[str, list[Record]]) -> None:
    cluster = first(stacks[CLOUD], "aws:eks/cluster:Cluster")
    cluster["inputs"].update(
        enabledClusterLogTypes="[unknown]", accessConfig="[secret]", deletionProtection="[unknown]"
    )
    assert ti.judge([cluster]) == []


def test_custom_resources_judge_api_version_kind_and_metadata(
    stacks: dict[str, list[Record]],
) -> None:
    rollout = first(stacks[SERVICES], "kubernetes:argoproj.io/v1alpha1:Rollout")
    rollout["inputs"]["apiVersion"] = "argoproj.io/v1"
    _rename(rollout["inputs"]["metadata"], "namespace", "namespce")
    assert {f.path for f in ti.judge([rollout])} == {"apiVersion", "metadata.namespce"}


def test_reads_are_skipped_their_missing_inputs_are_not_findings(
    stacks: dict[str, list[Record]],
) -> None:
    """A services stack reads each CRD it needs (`CustomResourceDefinition.get`): the record
    names what it read and has no inputs, which as a resource to create would lack `spec`."""
    reads = [r for r in stacks[SERVICES] if r["type"] == CRD]
    assert reads and all(r["read"] and r["inputs"] == {} for r in reads)
    assert not any(ti.judged(r) for r in reads)
    assert ti.judge(reads) == []
    created = dict(copy.deepcopy(reads[0]), read=None)
    assert [f.path for f in ti.judge([created])] == ["spec"]


def test_components_and_providers_are_skipped_unknown_types_are_not() -> None:
    records = [
        {"urn": "u1", "type": "slipway:apps:Microservice", "name": "a", "custom": False},
        {"urn": "u2", "type": "pulumi:providers:aws", "name": "p", "inputs": {"region": 1}},
        {"urn": "u3", "type": "aws:ec2/vpcc:Vpc", "name": "v", "inputs": {}},
    ]
    assert [(f.urn, f.path) for f in ti.judge(records)] == [("u3", "<inputs>")]


def test_cli_exit_codes(tmp_path: Path, stacks: dict[str, list[Record]], capsys) -> None:
    clean = tmp_path / "clean.json"
    clean.write_bytes(to_json_bytes(stacks["dev"]))
    assert ti.main([str(clean)]) == 0
    assert capsys.readouterr().out == ""

    vpc = first(stacks[CLOUD], "aws:ec2/vpc:Vpc")
    vpc["inputs"]["enableDnsSupport"] = "true"
    bad = tmp_path / "bad.json"
    bad.write_bytes(to_json_bytes([vpc]))
    assert ti.main([str(bad)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f'{vpc["name"]} (aws:ec2/vpc:Vpc) enableDnsSupport: expected bool, got a string ("true")'
    ]

    (tmp_path / "junk.json").write_text("{not json")
    (tmp_path / "dict.json").write_text('{"type": "x"}')
    for name in ("junk.json", "dict.json", "missing.json"):
        assert ti.main([str(tmp_path / name)]) == 2
    assert ti.main([]) == 2


def test_a_device_or_an_oversized_file_is_bad_input_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from slipway import judges

    assert ti.main(["/dev/zero"]) == 2  # read for ever before
    assert "not a regular file" in capsys.readouterr().err
    big = tmp_path / "resources.json"
    big.write_text("[]" + " " * 100)
    monkeypatch.setattr(judges, "MAX_RECORDS_BYTES", 64)
    assert ti.main([str(big)]) == 2
    assert "the limit is 64" in capsys.readouterr().err
