"""First-run mode: the offline preview answers as the engine's first preview of an empty stack.

Ids and what only the cloud computes are unknown, `apply` on them does not run, other stacks'
outputs come from `stack-outputs.yaml`, and a required key without a value stops the run.
Every stack must register the same resources both ways (`slipway.judges.first_run`).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
import pytest

from slipway import preview as pv
from slipway.engine import UNKNOWN, _quiet_about_bad_input, run_program
from slipway.errors import BadInput
from slipway.judges import first_run as fr
from tests.conftest import ROOT

STACKS = ("dev", "staging", "prod")
SECURE = (
    "  slipway:orders-db-password:\n    secure: v1:AAAABBBB\n"
    "  slipway:payments-api-key:\n    secure: v1:CCCCDDDD\n"
)


@pytest.fixture(scope="module")
def reports() -> dict[str, fr.Report]:
    return {s: fr.judge_stack(ROOT, s) for s in STACKS}


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_registers_the_same_resources_on_a_first_run(
    reports: dict[str, fr.Report], stack: str
) -> None:
    report = reports[stack]
    assert report.findings == []
    assert report.first_run_resources == report.resources > 0


def test_cloud_stacks_have_unknowns_where_the_engine_has_them(
    reports: dict[str, fr.Report],
) -> None:
    # dev deploys to an existing cluster: nothing the cloud computes is read.
    assert reports["dev"].unknowns == 0
    assert reports["staging"].unknowns > 0 and reports["prod"].unknowns > 0
    first = {r["urn"]: r for r in pv.render(ROOT, "prod", first_run=True).resources}
    normal = {r["urn"]: r for r in pv.render(ROOT, "prod").resources}
    assert sum(fr.count_unknowns(r["inputs"]) for r in normal.values()) == 0

    def inputs_of(records: dict[str, dict[str, Any]], type_: str) -> list[dict[str, Any]]:
        return [r["inputs"] for r in records.values() if r["type"] == type_]

    # ids: the VPC's id a subnet needs; ARNs: the role an EKS cluster assumes.
    assert {i["vpcId"] for i in inputs_of(first, "aws:ec2/subnet:Subnet")} == {"[unknown]"}
    assert {i["roleArn"] for i in inputs_of(first, "aws:eks/cluster:Cluster")} == {"[unknown]"}
    assert all(i["vpcId"] != "[unknown]" for i in inputs_of(normal, "aws:ec2/subnet:Subnet"))
    # A GCP service account's email only exists once it is created.
    annotations = [
        i["metadata"].get("annotations", {}).get("iam.gke.io/gcp-service-account")
        for i in inputs_of(first, "kubernetes:core/v1:ServiceAccount")
    ]
    assert "[unknown]" in annotations
    # Kubeconfigs are built from the cluster's endpoint and certificate: unknown, though
    # secret (a secret with no value yet shows as unknown; a known one stays redacted).
    providers = "pulumi:providers:kubernetes"
    assert {i["kubeconfig"] for i in inputs_of(first, providers)} == {"[unknown]"}
    assert {i["kubeconfig"] for i in inputs_of(normal, providers)} == {"[secret]"}
    # What the program gives as an input stays known: names, CIDRs, images.
    assert all(
        isinstance(i["cidrBlock"], str) and i["cidrBlock"] != "[unknown]"
        for i in inputs_of(first, "aws:ec2/subnet:Subnet")
    )


# -- planted programs ------------------------------------------------------------------------


def _run(program: Any, *, first_run: bool, **kwargs: Any) -> list[dict[str, Any]]:
    result = run_program(
        program,
        project="app",
        stack="dev",
        config={},
        secret_keys=[],
        first_run=first_run,
        **kwargs,
    )
    return [r.to_json() for r in result.records]


def _judge(program: Any, **kwargs: Any) -> list[fr.Finding]:
    return fr.compare(
        "dev", _run(program, first_run=False, **kwargs), _run(program, first_run=True, **kwargs)
    )


def _config_map(name: str, data: dict[str, Any]) -> k8s.core.v1.ConfigMap:
    return k8s.core.v1.ConfigMap(name, metadata={"name": name}, data=data)


def test_a_resource_made_inside_an_apply_on_a_cloud_output_is_a_difference() -> None:
    def program() -> None:
        repo = aws.ecr.Repository("images", name="images")
        repo.arn.apply(lambda arn: _config_map("made-in-apply", {"arn": arn}))

    [finding] = _judge(program)
    assert finding.urn.endswith("::made-in-apply")
    assert "not on the engine's first preview" in finding.message


def test_a_branch_on_a_cloud_output_is_a_difference() -> None:
    def program() -> None:
        repo = aws.ecr.Repository("images", name="images")
        repo.repository_url.apply(
            lambda url: _config_map("ecr", {}) if ".dkr.ecr." in url else _config_map("gcr", {})
        )

    [finding] = _judge(program)
    assert finding.urn.endswith("::ecr")


def test_a_resource_made_from_an_id_is_a_difference() -> None:
    def program() -> None:
        vpc = aws.ec2.Vpc("net", cidr_block="10.0.0.0/16")
        vpc.id.apply(lambda i: _config_map("per-vpc", {"vpc": i}))

    assert [f.urn.rsplit("::", 1)[1] for f in _judge(program)] == ["per-vpc"]


def test_an_apply_on_a_value_the_program_gave_is_not_a_difference() -> None:
    # The repository's name is an input: the first preview knows it, the apply runs.
    def program() -> None:
        repo = aws.ecr.Repository("images", name="images")
        repo.name.apply(lambda n: _config_map(f"for-{n}", {}))

    assert _judge(program) == []


def test_a_resource_read_by_id_is_known_on_a_first_run() -> None:
    # Resource.get reads an existing resource during the preview: its outputs are known.
    def program() -> None:
        zone = aws.route53.Zone.get("zone", "Z0123456789")
        zone.zone_id.apply(lambda z: _config_map("from-read", {"zone": z}))

    records = _run(program, first_run=True)
    assert any(r["name"] == "from-read" for r in records)
    assert _judge(program) == []


def test_an_auto_name_is_known_on_a_first_run() -> None:
    # The Terraform bridge names a resource without `name` while it plans (Check).
    def program() -> None:
        role = aws.iam.Role("deployer", assume_role_policy="{}")
        role.name.apply(lambda n: _config_map("named", {"role": n}))
        role.arn.apply(lambda a: _config_map("arn", {"role": a}))

    assert [f.urn.rsplit("::", 1)[1] for f in _judge(program)] == ["arn"]


def test_provider_ids_may_differ_but_a_changed_protect_flag_is_a_difference() -> None:
    normal = [
        {
            "urn": "urn:pulumi:dev::app::kubernetes:core/v1:ConfigMap::cm",
            "type": "kubernetes:core/v1:ConfigMap",
            "parent": "",
            "provider": "urn:pulumi:dev::app::pulumi:providers:kubernetes::k::k-id",
            "custom": True,
            "protect": False,
            "aliases": [],
            "inputs": {},
        }
    ]
    # A first run sends the provider's id as the engine's unknown sentinel.
    first = [dict(normal[0], provider=normal[0]["provider"].replace("k-id", UNKNOWN))]
    assert fr.compare("dev", normal, first) == []  # the provider's id may be unknown
    first[0]["protect"] = True
    [finding] = fr.compare("dev", normal, first)
    assert finding.message.startswith("protect differs")


def test_first_run_ids_are_unknown_and_outputs_the_program_gave_are_known() -> None:
    seen: dict[str, Any] = {}

    def program() -> None:
        repo = aws.ecr.Repository("images", name="images")
        pulumi.Output.all(repo.id, repo.arn, repo.name).apply(lambda v: seen.update(all=v))
        repo.name.apply(lambda n: seen.update(name=n))

    _run(program, first_run=True)
    assert seen == {"name": "images"}
    _run(program, first_run=False)
    assert seen["all"][2] == "images" and seen["all"][1].startswith("arn:aws:ecr:")


# -- other stacks' outputs --------------------------------------------------------------------

RECORDED = {
    "acme/network/prod": {
        "vpcId": "vpc-0abc",
        "token": "[secret]",
        "db": {"host": "db.internal", "password": "[secret]"},
    }
}


def _reads_network() -> dict[str, Any]:
    seen: dict[str, Any] = {}

    def program() -> None:
        ref = pulumi.StackReference("acme/network/prod")
        _config_map("net", {"vpc": ref.get_output("vpcId")})
        ref.get_output("vpcId").apply(lambda v: seen.update(vpc=v))
        for output in ("vpcId", "token", "db"):
            # What the SDK says of each output's secrecy (from secretOutputNames).
            done = asyncio.ensure_future(ref.get_output(output).is_secret())
            done.add_done_callback(
                lambda f, o=output: seen.setdefault("secret", {}).update({o: f.result()})
            )

    seen["program"] = program
    return seen


@pytest.mark.parametrize("first", [False, True])
def test_stack_references_read_the_recorded_outputs_in_both_modes(first: bool) -> None:
    seen = _reads_network()
    records = _run(seen["program"], first_run=first, stack_outputs=RECORDED)
    assert seen["vpc"] == "vpc-0abc"
    (net,) = [r for r in records if r["name"] == "net"]
    assert net["inputs"]["data"] == {"vpc": "vpc-0abc"}  # known in both modes
    # Recorded as "[secret]", at the top or anywhere inside: secret, as the engine marks it.
    assert seen["secret"] == {"vpcId": False, "token": True, "db": True}


def test_a_stack_reference_without_a_recording_is_bad_input_naming_it() -> None:
    with pytest.raises(BadInput) as info:
        _run(
            _reads_network()["program"],
            first_run=True,
            stack_outputs={},
            stack_outputs_source="stack-outputs.yaml",
        )
    assert info.value.file == "stack-outputs.yaml"
    assert "acme/network/prod" in str(info.value)
    assert "pulumi stack output --json -s acme/network/prod" in str(info.value)


def test_bad_input_left_in_outputs_is_not_reported_again_by_asyncio() -> None:
    # Every Output derived from the failed read holds the same error; asyncio printed each
    # as "exception was never retrieved" with a traceback after the one plain message.
    reported: list[dict[str, Any]] = []

    class Loop(asyncio.SelectorEventLoop):
        def default_exception_handler(self, context: dict[str, Any]) -> None:
            reported.append(context)

    loop = Loop()
    try:
        _quiet_about_bad_input(loop, {"message": "never retrieved", "exception": BadInput("x")})
        assert reported == []
        _quiet_about_bad_input(loop, {"message": "never retrieved", "exception": ValueError()})
        assert len(reported) == 1
    finally:
        loop.close()


def test_stack_outputs_file_is_read_and_a_bad_one_refused(tmp_path: Path) -> None:
    assert pv.read_stack_outputs(tmp_path) == {}
    (tmp_path / pv.STACK_OUTPUTS).write_text(json.dumps(RECORDED))
    assert pv.read_stack_outputs(tmp_path) == RECORDED
    (tmp_path / pv.STACK_OUTPUTS).write_text("acme/network/prod: [1, 2]\n")
    with pytest.raises(BadInput) as info:
        pv.read_stack_outputs(tmp_path)
    assert info.value.file == pv.STACK_OUTPUTS
    assert info.value.field == "acme/network/prod"
    assert "given list" in str(info.value)
    (tmp_path / pv.STACK_OUTPUTS).write_text("- acme/network/prod\n")
    with pytest.raises(BadInput, match="given list"):
        pv.read_stack_outputs(tmp_path)


# -- the command ------------------------------------------------------------------------------


def test_first_run_stops_on_missing_required_config_as_the_engine_does(
    run: Any, project: Path
) -> None:
    out = project / "out"
    result = run("preview", "dev", "--first-run", "--no-policy", "--out", str(out))
    assert result.exit_code == 2, result.output
    assert "pulumi config set --secret slipway:payments-api-key -s dev" in result.output
    assert not out.exists()


@pytest.mark.parametrize("stack", STACKS)
def test_first_run_command_renders_every_stack_once_its_secrets_are_set(
    run: Any, project: Path, stack: str
) -> None:
    stack_file = project / f"Pulumi.{stack}.yaml"
    stack_file.write_text(stack_file.read_text() + SECURE)
    out = project / "out"
    result = run("preview", stack, "--first-run", "--out", str(out))
    assert result.exit_code == 0, result.output
    records = json.loads((out / "resources.json").read_text())
    assert len(records) == len(pv.render(ROOT, stack).resources)
    unknowns = sum(fr.count_unknowns(r["inputs"]) for r in records)
    assert (unknowns > 0) == (stack != "dev")
    # The pack gets unknowns as the engine sends them: a rule that reads one cannot run and
    # says so (advisory), as `pulumi preview --policy-pack` does; it runs on `up`.
    cannot_run = {
        d["policy"]
        for d in json.loads((out / "policy.json").read_text())
        if "can't be known during preview" in d["message"]
    }
    expected = {
        "dev": set(),
        "staging": {"eks-secrets-encryption", "iam-no-wildcard-admin"},
        "prod": {"eks-secrets-encryption", "gke-secrets-encryption", "iam-no-wildcard-admin"},
    }
    assert cannot_run == expected[stack]


def test_judge_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert fr.main(["--project-dir", str(ROOT), "dev"]) == 0
    summary = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert summary == {
        "stack": "dev",
        "resources": 59,
        "first_run_resources": 59,
        "unknown_values": 0,
        "differences": 0,
    }
    assert fr.main(["--project-dir", str(ROOT), "nosuchstack"]) == 2
    assert "Pulumi.nosuchstack.yaml" in capsys.readouterr().err


def test_a_secret_with_no_value_yet_shows_as_unknown_and_a_known_one_stays_redacted() -> None:
    from pulumi.output import Unknown

    from slipway.engine import SECRET_SIG, SECRET_VALUE, UNKNOWN, clean

    def secret(value: Any) -> dict[str, Any]:
        return {SECRET_SIG: SECRET_VALUE, "value": value}

    assert clean({"k": secret(UNKNOWN)}) == {"k": "[unknown]"}
    assert clean({"k": secret(Unknown())}) == {"k": "[unknown]"}
    assert clean({"k": secret({"a": "hunter2", "b": UNKNOWN})}) == {
        "k": {"a": "[secret]", "b": "[unknown]"}
    }
    assert clean({"k": secret("hunter2")}) == {"k": "[secret]"}
