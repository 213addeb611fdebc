"""LoadBalancerControllerRole: the controller's IRSA role, with upstream's policy for the
pinned controller version, auto-named and tagged."""

from __future__ import annotations

import fnmatch
import gc
import hashlib
import json
import logging
import re
import subprocess
import sys
import textwrap
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pydantic import ValidationError

from slipway.engine import run_program
from slipway.judges import typed_inputs
from slipway_components import addons, lbc
from slipway_components.lbc import LoadBalancerControllerRole, LoadBalancerControllerRoleArgs
from tests.cloud_mocks import CloudMocks, RecordingMonitor, run
from tests.conftest import records_of

COMPONENTS = Path(__file__).resolve().parents[1] / "components"
DATA = COMPONENTS / "slipway_components" / "data"
POLICY = DATA / lbc.POLICY_FILE
README = DATA / "README.md"

TAGS = {"team": "platform", "cost-center": "platform"}
ISSUER = "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE"
PROVIDER = f"arn:aws:iam::123456789012:oidc-provider/{ISSUER}"
ROLE = "aws:iam/role:Role"
POLICY_T = "aws:iam/policy:Policy"
ATTACH = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
SUBJECT = "system:serviceaccount:aws-load-balancer-controller:aws-load-balancer-controller"


class PolicyMocks(CloudMocks):
    """The shared mocks, plus the ARN AWS gives a customer-managed policy."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        rid, state = super().new_resource(args)
        if args.typ == POLICY_T:
            state.setdefault("arn", f"arn:aws:iam::123456789012:policy/{args.name}")
        return rid, state


@pytest.fixture
def mon() -> RecordingMonitor:
    monitor = RecordingMonitor(PolicyMocks())
    pulumi.runtime.set_mocks(
        PolicyMocks(), project="slipway", stack="test", preview=False, monitor=monitor
    )
    return monitor


def args(**kw: Any) -> LoadBalancerControllerRoleArgs:
    fields: dict[str, Any] = {"oidc_provider_arn": PROVIDER, "oidc_issuer": ISSUER, "tags": TAGS}
    return LoadBalancerControllerRoleArgs(**{**fields, **kw})


def build(mon: RecordingMonitor, **kw: Any) -> dict[str, str]:
    """Build the component; its outputs, resolved."""
    out: dict[str, str] = {}

    def program() -> Any:
        role = LoadBalancerControllerRole("use1-lbc", args(**kw))
        return pulumi.Output.all(role.role_arn, role.role_name, role.policy_arn).apply(
            lambda a: out.update(role_arn=a[0], role_name=a[1], policy_arn=a[2])
        )

    run(program)
    return out


def readme_field(label: str) -> str:
    """The first back-quoted value on the README's `- <label>:` line."""
    m = re.search(rf"^- {label}: `([^`]+)`", README.read_text(), re.MULTILINE)
    assert m, f"data/README.md has no '- {label}:' line"
    return m.group(1)


# --- trust -----------------------------------------------------------------------------------


def test_trust_pins_the_controller_service_account_and_sts(mon: RecordingMonitor) -> None:
    build(mon)
    trust = json.loads(mon.one(ROLE).inputs["assumeRolePolicy"])
    [stmt] = trust["Statement"]
    assert stmt["Effect"] == "Allow"
    assert stmt["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert stmt["Principal"] == {"Federated": PROVIDER}
    assert stmt["Condition"] == {
        "StringEquals": {f"{ISSUER}:sub": SUBJECT, f"{ISSUER}:aud": "sts.amazonaws.com"}
    }


def test_trust_takes_the_cluster_outputs(mon: RecordingMonitor) -> None:
    build(
        mon,
        oidc_provider_arn=pulumi.Output.from_input(PROVIDER),
        oidc_issuer=pulumi.Output.from_input(ISSUER),
    )
    cond = json.loads(mon.one(ROLE).inputs["assumeRolePolicy"])["Statement"][0]["Condition"]
    assert cond["StringEquals"][f"{ISSUER}:sub"] == SUBJECT


def test_service_account_is_the_one_the_chart_release_uses() -> None:
    assert lbc.LBC_NAMESPACE == addons.LBC_NAMESPACE
    assert lbc.LBC_SERVICE_ACCOUNT == addons.LBC_SERVICE_ACCOUNT
    namespace, account = addons.LBC_NAMESPACE, addons.LBC_SERVICE_ACCOUNT
    assert f"system:serviceaccount:{namespace}:{account}" == SUBJECT


# --- policy ----------------------------------------------------------------------------------


def test_policy_document_is_the_vendored_file(mon: RecordingMonitor) -> None:
    build(mon)
    assert mon.one(POLICY_T).inputs["policy"] == POLICY.read_bytes().decode("utf-8")
    assert lbc.controller_policy() == POLICY.read_text(encoding="utf-8")


def test_policy_is_attached_to_the_role(mon: RecordingMonitor) -> None:
    out = build(mon)
    attach = mon.one(ATTACH)
    assert attach.inputs["role"] == out["role_name"]
    assert attach.inputs["policyArn"] == out["policy_arn"]


def test_vendored_policy_is_the_one_for_the_pinned_controller() -> None:
    pin = addons.CHARTS["aws-load-balancer-controller"]
    assert readme_field("Tag") == pin.app_version
    assert f"blob/{pin.app_version}/docs/install/iam_policy.json" in README.read_text()
    # the README's checksums are of this file: it was not edited after the copy
    raw = POLICY.read_bytes()
    assert readme_field("Git blob") == hashlib.sha1(b"blob %d\0" % len(raw) + raw).hexdigest()
    assert hashlib.sha256(raw).hexdigest() in README.read_text()
    assert re.fullmatch(r"[0-9a-f]{40}", readme_field("Commit"))
    assert "Apache-2.0" in README.read_text()


def test_vendored_policy_is_a_policy_aws_accepts() -> None:
    doc = json.loads(POLICY.read_text())
    assert doc["Version"] == "2012-10-17"
    assert all(s["Effect"] in {"Allow", "Deny"} for s in doc["Statement"])
    # a customer-managed policy holds at most 6,144 characters, white space not counted
    assert len(re.sub(r"\s", "", POLICY.read_text())) <= 6144
    # commercial partition only, which the provider ARN check relies on
    arns = re.findall(r'"(arn:[^:"]+):', POLICY.read_text())
    assert set(arns) == {"arn:aws"}


def test_the_policy_ships_in_the_wheel() -> None:
    setuptools = tomllib.loads((COMPONENTS / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = setuptools["package-data"]["slipway_components"]
    assert any(fnmatch.fnmatch(f"data/{lbc.POLICY_FILE}", p) for p in patterns)


# --- names, tags, outputs --------------------------------------------------------------------


def test_names_are_left_to_auto_naming(mon: RecordingMonitor) -> None:
    build(mon)
    for type_ in (ROLE, POLICY_T):
        inputs = mon.one(type_).inputs
        assert "name" not in inputs, type_
        assert "namePrefix" not in inputs, type_


def test_name_prefix_is_a_prefix_not_a_name(mon: RecordingMonitor) -> None:
    build(mon, name_prefix="prod-lbc-")
    for type_ in (ROLE, POLICY_T):
        inputs = mon.one(type_).inputs
        assert "name" not in inputs, type_
        assert inputs["namePrefix"] == "prod-lbc-"


def test_two_roles_in_one_program_do_not_collide(mon: RecordingMonitor) -> None:
    def program() -> None:
        LoadBalancerControllerRole("use1-lbc", args())
        LoadBalancerControllerRole("euw1-lbc", args())

    run(program)
    for type_ in (ROLE, POLICY_T, ATTACH):
        assert len({r.urn for r in mon.of_type(type_)}) == 2


def test_role_and_policy_carry_the_tags(mon: RecordingMonitor) -> None:
    build(mon, tags={**TAGS, "env": "prod"})
    for type_ in (ROLE, POLICY_T):
        assert mon.one(type_).inputs["tags"] == {**TAGS, "env": "prod"}


def test_children_belong_to_the_component(mon: RecordingMonitor) -> None:
    out = build(mon)
    comp = mon.one("slipway:aws:LoadBalancerControllerRole")
    for type_ in (ROLE, POLICY_T, ATTACH):
        assert mon.one(type_).parent == comp.urn
    assert out["role_arn"] == f"arn:aws:iam::123456789012:role/{out['role_name']}"


def test_every_input_fits_the_sdk_types() -> None:
    def program() -> None:
        LoadBalancerControllerRole("use1-lbc", args(name_prefix="prod-lbc-"))

    result = run_program(program, project="slipway", stack="test", config={}, secret_keys=[])
    assert {ROLE, POLICY_T, ATTACH} <= {r.type for r in result.records}
    assert typed_inputs.judge([r.to_json() for r in result.records]) == []


# --- bad args --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tags",
    [{}, {"team": "platform"}, {"cost-center": "platform"}, {"team": "", "cost-center": "x"}],
)
def test_tags_without_the_required_keys_are_refused(tags: dict[str, str]) -> None:
    with pytest.raises(ValidationError, match="lack required key"):
        args(tags=tags)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("oidc_issuer", f"https://{ISSUER}", "without scheme"),
        ("oidc_issuer", f"{ISSUER}/", "without scheme"),
        ("oidc_issuer", "", "without scheme"),
        ("oidc_provider_arn", "arn:aws:iam::123456789012:role/lbc", "not an IAM OIDC provider"),
        ("oidc_provider_arn", ISSUER, "not an IAM OIDC provider"),
        (
            "oidc_provider_arn",
            f"arn:aws-cn:iam::123456789012:oidc-provider/{ISSUER}",
            "partition 'aws-cn'",
        ),
        ("name_prefix", "x" * 39, "1-38 characters"),
        ("name_prefix", "prod lbc", "1-38 characters"),
        ("name_prefix", "", "1-38 characters"),
    ],
)
def test_bad_values_are_refused(field: str, value: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        args(**{field: value})


def test_missing_and_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError, match="oidc_issuer"):
        LoadBalancerControllerRoleArgs(oidc_provider_arn=PROVIDER, tags=TAGS)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        args(name="fixed-name")


@pytest.fixture
def failing_run() -> Iterator[None]:
    """A failed program's futures keep its error until the next run: release them quietly
    (as tests/test_component_inputs.py does) so later tests' output stays clean."""
    logger = logging.getLogger("asyncio")
    logger.disabled = True
    try:
        yield
        records_of(lambda: None)
        gc.collect()
    finally:
        logger.disabled = False


def test_an_output_issuer_is_checked_when_it_resolves(failing_run: None) -> None:
    def program() -> None:
        issuer = pulumi.Output.from_input(f"https://{ISSUER}")
        LoadBalancerControllerRole("use1-lbc", args(oidc_issuer=issuer))

    with pytest.raises(ValueError, match=r"RoleArgs\.oidc_issuer: oidc_issuer 'https://"):
        records_of(program)


# --- lean imports ----------------------------------------------------------------------------


def test_builds_without_the_kubernetes_sdk() -> None:
    """An IAM-only program (the cluster stack) need not load the Kubernetes SDK."""
    code = textwrap.dedent(
        """
        import sys

        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] == "pulumi_kubernetes":
                    raise ModuleNotFoundError(f"No module named {name!r}", name=name)

        sys.meta_path.insert(0, Block())
        from slipway.engine import run_program
        from slipway_components.lbc import (
            LoadBalancerControllerRole,
            LoadBalancerControllerRoleArgs,
        )

        def program():
            LoadBalancerControllerRole(
                "lbc",
                LoadBalancerControllerRoleArgs(
                    oidc_provider_arn=sys.argv[1],
                    oidc_issuer=sys.argv[2],
                    tags={"team": "platform", "cost-center": "platform"},
                ),
            )

        result = run_program(program, project="p", stack="s", config={}, secret_keys=[])
        print(sorted(r.type for r in result.records if r.custom))
        assert "pulumi_kubernetes" not in sys.modules
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, PROVIDER, ISSUER],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert ROLE in proc.stdout and POLICY_T in proc.stdout
