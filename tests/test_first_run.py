"""First-run mode: the offline preview answers as the engine's first preview of an empty stack.

Ids and what only the cloud computes are unknown, `apply` on them does not run, other stacks'
outputs come from `stack-outputs.yaml` (else the platform stack's own offline preview), and a
required key without a value stops the run. Every stack must register the same resources both
ways (`slipway.judges.first_run`).
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
from tests.conftest import ALL_STACKS, ROOT

STACKS = ALL_STACKS
SECURE = "  slipway:orders-db-password:\n    secure: v1:AAAABBBB\n"
GENERATED = "        source: generated\n        key: orders-db-password\n"


def plant_config_secret(project: Path) -> None:
    """dev's orders reads its database password from a Pulumi config secret instead of a
    generated one: a key the stack file does not set (dev needs none as it ships)."""
    orders = project / "services" / "orders.yaml"
    text = orders.read_text()
    assert text.count(GENERATED) == 1
    orders.write_text(text.replace(GENERATED, GENERATED.replace("generated", "pulumi-config")))


def unknown_leaves(records: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(resource name, input path) of every unknown leaf, in record order."""

    def walk(value: Any, path: str) -> list[str]:
        if isinstance(value, dict):
            return [p for k, v in value.items() for p in walk(v, f"{path}.{k}".lstrip("."))]
        if isinstance(value, list):
            return [p for i, v in enumerate(value) for p in walk(v, f"{path}[{i}]")]
        return [path] if value == fr.UNKNOWN else []

    return [(r["name"], p) for r in records for p in walk(r["inputs"], "")]


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
    reports: dict[str, fr.Report], stacks: dict[str, list[dict[str, Any]]]
) -> None:
    # Every stack's first run has something only the engine or the cloud computes.
    assert all(reports[s].unknowns > 0 for s in STACKS)
    # The platform stacks create what the cloud computes: most of their unknowns.
    assert reports["prod-platform"].unknowns > reports["prod"].unknowns
    assert reports["staging-platform"].unknowns > reports["staging"].unknowns

    def inputs_of(records: list[dict[str, Any]], type_: str) -> list[dict[str, Any]]:
        return [r["inputs"] for r in records if r["type"] == type_]

    first = pv.render(ROOT, "prod-platform", first_run=True).resources
    normal = stacks["prod-platform"]
    # ids: the VPC's id a subnet needs; ARNs: the role an EKS cluster assumes.
    assert {i["vpcId"] for i in inputs_of(first, "aws:ec2/subnet:Subnet")} == {"[unknown]"}
    assert {i["roleArn"] for i in inputs_of(first, "aws:eks/cluster:Cluster")} == {"[unknown]"}
    assert all(i["vpcId"] != "[unknown]" for i in inputs_of(normal, "aws:ec2/subnet:Subnet"))
    assert all(i["roleArn"] != "[unknown]" for i in inputs_of(normal, "aws:eks/cluster:Cluster"))
    # Kubeconfigs are built from the cluster's endpoint and certificate: unknown, though
    # secret (a secret with no value yet shows as unknown; a known one stays redacted).
    providers = "pulumi:providers:kubernetes"
    assert {i["kubeconfig"] for i in inputs_of(first, providers)} == {"[unknown]"}
    assert {i["kubeconfig"] for i in inputs_of(normal, providers)} == {"[secret]"}
    # What the program gives as an input stays known: names, CIDRs.
    assert all(
        isinstance(i["cidrBlock"], str) and i["cidrBlock"] != "[unknown]"
        for i in inputs_of(first, "aws:ec2/subnet:Subnet")
    )

    # The services stack reads the platform's outputs, which exist once the platform is up:
    # its clusters' kubeconfigs (secret, not unknown) and its registries' images are known.
    services = pv.render(ROOT, "prod", first_run=True).resources
    assert sum(fr.count_unknowns(r["inputs"]) for r in stacks["prod"]) == 0
    assert {i["kubeconfig"] for i in inputs_of(services, providers)} == {"[secret]"}
    images = [
        c["image"]
        for i in inputs_of(services, "kubernetes:apps/v1:Deployment")
        for c in i["spec"]["template"]["spec"]["containers"]
    ]
    assert images and all("@sha256:" in image for image in images), images
    # What it creates itself is unknown: a GCP service account's email only exists once it
    # is created, an IRSA role's ARN likewise, and the zone a DNS record goes in.
    annotations = [
        i["metadata"].get("annotations", {})
        for i in inputs_of(services, "kubernetes:core/v1:ServiceAccount")
    ]
    assert "[unknown]" in {a.get("iam.gke.io/gcp-service-account") for a in annotations}
    assert "[unknown]" in {a.get("eks.amazonaws.com/role-arn") for a in annotations}
    assert {i["zoneId"] for i in inputs_of(services, "aws:route53/record:Record")} == {"[unknown]"}

    # dev deploys to an existing cluster: nothing the cloud computes is read, and its only
    # unknowns are the passwords it generates (RandomPassword), in the Secrets that hold them.
    dev = pv.render(ROOT, "dev", first_run=True).resources
    assert unknown_leaves(dev) == [
        ("local-orders-secrets", "stringData"),
        ("local-payments-secrets", "stringData"),
    ]


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
    plant_config_secret(project)
    out = project / "out"
    result = run("preview", "dev", "--first-run", "--no-policy", "--out", str(out))
    assert result.exit_code == 2, result.output
    assert "pulumi config set --secret slipway:orders-db-password -s dev" in result.output
    assert not out.exists()
    # Once its secret is set, the same first run renders.
    stack_file = project / "Pulumi.dev.yaml"
    stack_file.write_text(stack_file.read_text() + SECURE)
    result = run("preview", "dev", "--first-run", "--no-policy", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert (out / "resources.json").is_file()


@pytest.mark.parametrize("stack", STACKS)
def test_first_run_command_renders_every_stack_with_no_config_set(
    run: Any, project: Path, reports: dict[str, fr.Report], stack: str
) -> None:
    """No stack requires a Pulumi config key: dev generates its secrets, staging and prod
    read theirs from the cloud stores."""
    out = project / "out"
    result = run("preview", stack, "--first-run", "--out", str(out))
    assert result.exit_code == 0, result.output
    records = json.loads((out / "resources.json").read_text())
    assert len(records) == reports[stack].resources
    unknowns = sum(fr.count_unknowns(r["inputs"]) for r in records)
    assert unknowns == reports[stack].unknowns
    assert unknowns > 0
    # The pack gets unknowns as the engine sends them: a rule that reads one cannot run and
    # says so (advisory), as `pulumi preview --policy-pack` does; it runs on `up`. The rules
    # on clusters and IAM policies meet unknowns where those are created: the platform stacks.
    cannot_run = {
        d["policy"]
        for d in json.loads((out / "policy.json").read_text())
        if "can't be known during preview" in d["message"]
    }
    expected = {
        "dev": set(),
        "staging-platform": {"eks-secrets-encryption", "iam-no-wildcard-admin"},
        "staging": set(),
        "prod-platform": {
            "eks-secrets-encryption",
            "gke-secrets-encryption",
            "iam-no-wildcard-admin",
        },
        "prod": set(),
    }
    assert cannot_run == expected[stack]


def test_judge_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from slipway import preview as pv

    count = len(pv.render(ROOT, "dev").records)
    capsys.readouterr()
    assert fr.main(["--project-dir", str(ROOT), "dev"]) == 0
    summary = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert summary == {
        "stack": "dev",
        "resources": count,
        "first_run_resources": count,
        "unknown_values": 2,  # the generated passwords
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
