"""Layered stacks: the platform builds clusters, registries and add-ons and exports what the
services stack reads through a StackReference; the services stack never holds a cluster,
pulls images by digest from the platform's registries and waits for the CRDs it needs."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from slipway import preview
from slipway.errors import BadInput
from slipway.judges import crds_installed, typed_inputs

ROOT = Path(__file__).resolve().parents[1]

PLATFORM_ONLY = re.compile(
    r"^(aws:eks/|aws:ec2/|aws:kms/|aws:ecr/|aws:iam/openIdConnectProvider|gcp:container/|"
    r"gcp:compute/|gcp:kms/|gcp:artifactregistry/|kubernetes:helm\.sh/)"
)
"""What a services change must never be able to replace: networks, clusters, node pools,
keys, registries and the add-ons' releases."""


def by_type(records: list[dict[str, Any]], type_: str) -> list[dict[str, Any]]:
    return [r for r in records if r["type"] == type_]


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_services_stack_holds_no_cluster_network_registry_or_addon(
    stacks: dict[str, list[dict[str, Any]]], env: str
) -> None:
    held = sorted({r["type"] for r in stacks[env] if PLATFORM_ONLY.match(r["type"])})
    assert held == []
    platform = {r["type"] for r in stacks[f"{env}-platform"]}
    assert "kubernetes:helm.sh/v3:Release" in platform
    assert platform & {"aws:eks/cluster:Cluster", "gcp:container/cluster:Cluster"}


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_platform_stack_holds_no_workload(
    stacks: dict[str, list[dict[str, Any]]], env: str
) -> None:
    kinds = {r["type"] for r in stacks[f"{env}-platform"]}
    assert not kinds & {
        "kubernetes:apps/v1:Deployment",
        "kubernetes:argoproj.io/v1alpha1:Rollout",
        "slipway:apps:Microservice",
    }


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_every_custom_resource_of_a_services_stack_waits_for_its_crd(
    stacks: dict[str, list[dict[str, Any]]], env: str
) -> None:
    records = stacks[env]
    by_urn = {r["urn"]: r for r in records}
    reads = {
        r["urn"]: r["read"]
        for r in by_type(records, "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition")
    }
    assert reads, "the services stack reads the CRDs it needs"
    checked = 0
    for record in records:
        found = crds_installed.custom_resource_kind(record)
        if found is None:
            continue
        group, _, kind = found
        provider = by_urn[record["provider"].rsplit("::", 1)[0]]
        gated = {reads[d] for d in provider["dependencies"] if d in reads}
        plural = {c.split(".", 1)[0] for c in gated if c.endswith("." + group)}
        assert any(p.startswith(kind.lower()) for p in plural), (record["urn"], sorted(gated))
        checked += 1
    assert checked > 20


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_services_stack_crds_are_installed_by_its_platform_and_only_there(
    stacks: dict[str, list[dict[str, Any]]], env: str
) -> None:
    pair = {env: stacks[env], f"{env}-platform": stacks[f"{env}-platform"]}
    assert crds_installed.judge(pair, {env: [f"{env}-platform"]}) == []
    alone = crds_installed.judge({env: stacks[env]}, {env: []})
    assert len(alone) > 20  # without the platform's add-ons nothing is installed


def test_services_images_by_digest_from_the_platforms_registries(
    stacks: dict[str, list[dict[str, Any]]],
) -> None:
    job = preview.prepare(ROOT, "prod")
    ref = preview.platform_stack_of(job.config, job.project)
    assert ref == ("prod-platform", "organization/slipway/prod-platform")
    images = {
        (t, svc): repo
        for t, entry in job.stack_outputs[ref[1]]["targets"].items()
        for svc, repo in entry["images"].items()
    }
    seen = 0
    for record in stacks["prod"]:
        if record["type"] not in (
            "kubernetes:apps/v1:Deployment",
            "kubernetes:argoproj.io/v1alpha1:Rollout",
        ):
            continue
        spec = record["inputs"]["spec"]["template"]["spec"]
        for container in spec["containers"]:
            repo, _, rest = container["image"].partition(":")
            assert "@sha256:" in rest, container["image"]
            service = repo.rsplit("/", 1)[1]
            assert images[(record["target"], service)] == repo
            seen += 1
    assert seen >= 12


def test_platform_exports_targets_plainly_and_kubeconfigs_as_a_secret() -> None:
    job = preview.prepare(ROOT, "prod-platform")
    outputs: dict[str, Any] = {}
    preview.run_job(job, outputs=outputs)
    assert set(outputs) == {"targets", "kubeconfigs"}
    # as `pulumi stack output --json` shows a secret output: one "[secret]"
    assert outputs["kubeconfigs"] == "[secret]"
    aws = outputs["targets"]["aws-us-east-1"]
    assert aws["cloud"] == "aws" and aws["region"] == "us-east-1"
    assert aws["clusterIdentifier"].endswith("prod-aws-us-east-1")
    assert set(aws["images"]) == {"frontend", "inventory", "orders", "payments"}
    assert all("/prod/" in url for url in aws["images"].values())  # per environment
    assert "argo-rollouts" in aws["addons"] and "istiod" in aws["addons"]
    assert "rollouts.argoproj.io" in aws["crds"]
    gcp = outputs["targets"]["gcp-europe-west1"]
    assert gcp["ingressAddressName"] and gcp["clusterIdentifier"]


def test_recorded_platform_outputs_win_over_the_offline_preview(tmp_path: Path) -> None:
    from tests.conftest import copy_project

    project = copy_project(tmp_path / "p", ("staging", "staging-platform"))
    job = preview.prepare(project, "staging-platform")
    outputs: dict[str, Any] = {}
    preview.run_job(job, outputs=outputs)
    outputs["targets"]["aws-us-east-1"]["images"]["orders"] = (
        "444455556666.dkr.ecr.us-east-1.amazonaws.com/staging/orders-recorded"
    )
    (project / preview.STACK_OUTPUTS).write_text(
        yaml.safe_dump({"organization/slipway/staging-platform": outputs})
    )
    services = preview.prepare(project, "staging")
    assert services.warnings == []
    rendered = preview.render(project, "staging")
    images = [
        c["image"]
        for r in rendered.records
        if r.type == "kubernetes:apps/v1:Deployment"
        for c in r.inputs["spec"]["template"]["spec"]["containers"]
    ]
    assert any("/staging/orders-recorded:1.4.2@sha256:" in i for i in images)


def test_a_target_the_platform_does_not_export_fails_naming_both(tmp_path: Path) -> None:
    from tests.conftest import copy_project

    project = copy_project(tmp_path / "p", ("staging", "staging-platform"))
    (project / preview.STACK_OUTPUTS).write_text(
        yaml.safe_dump(
            {
                "organization/slipway/staging-platform": {
                    "targets": {"aws-eu-west-1": {"cloud": "aws", "region": "eu-west-1"}},
                    "kubeconfigs": {"aws-eu-west-1": "[secret]"},
                }
            }
        )
    )
    with pytest.raises(BadInput) as err:
        preview.render(project, "staging")
    text = str(err.value)
    assert "aws-us-east-1" in text and "staging-platform" in text and "aws-eu-west-1" in text
    assert err.value.file == "Pulumi.staging.yaml"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"slipway:platformStack": "prod-platform"}, "platformStack is for layer 'services'"),
    ],
)
def test_platform_stack_setting_outside_services_is_refused(
    tmp_path: Path, edit: dict[str, str], message: str
) -> None:
    from tests.conftest import copy_project

    project = copy_project(tmp_path / "p", ("dev",))
    doc = yaml.safe_load((project / "Pulumi.dev.yaml").read_text())
    doc["config"].update(edit)
    (project / "Pulumi.dev.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(BadInput, match=message):
        preview.render(project, "dev")


def test_cluster_settings_in_a_services_stack_are_refused(tmp_path: Path) -> None:
    from tests.conftest import copy_project

    project = copy_project(tmp_path / "p", ("staging", "staging-platform"))
    doc = yaml.safe_load((project / "Pulumi.staging.yaml").read_text())
    doc["config"]["slipway:targets"][0]["cluster"] = {"vpcCidr": "10.9.0.0/16"}
    (project / "Pulumi.staging.yaml").write_text(yaml.safe_dump(doc))
    with pytest.raises(BadInput, match="belong in the platform stack's file"):
        preview.render(project, "staging")


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_istio_namespaces_are_labelled_for_injection(
    stacks: dict[str, list[dict[str, Any]]], env: str
) -> None:
    namespaces = [
        r
        for r in by_type(stacks[env], "kubernetes:core/v1:Namespace")
        if r["inputs"]["metadata"]["labels"].get("team") not in (None, "platform")
    ]
    assert len(namespaces) >= 3  # the teams'
    for ns in namespaces:
        assert ns["inputs"]["metadata"]["labels"]["istio-injection"] == "enabled"


def test_no_injection_label_without_a_mesh(stacks: dict[str, list[dict[str, Any]]]) -> None:
    team = [
        r
        for r in by_type(stacks["dev"], "kubernetes:core/v1:Namespace")
        if r["inputs"]["metadata"]["labels"].get("team") not in (None, "platform")
    ]
    assert team
    assert all("istio-injection" not in r["inputs"]["metadata"]["labels"] for r in team)


def test_dev_installs_its_addons_and_workloads_wait_for_them(
    stacks: dict[str, list[dict[str, Any]]],
) -> None:
    records = stacks["dev"]
    releases = {r["name"] for r in by_type(records, "kubernetes:helm.sh/v3:Release")}
    assert "local-addons-kube-prometheus-stack" in releases
    provider = next(r for r in records if r["name"] == "local-k8s")
    # depends_on a component waits for its children: the SDK sends their URNs
    release = next(r for r in records if r["name"] == "local-addons-kube-prometheus-stack")
    assert release["urn"] in provider["dependencies"]
    assert crds_installed.judge({"dev": records}, {"dev": []}) == []


def test_dev_secrets_are_generated_once_per_key(stacks: dict[str, list[dict[str, Any]]]) -> None:
    generated = by_type(stacks["dev"], "random:index/randomPassword:RandomPassword")
    assert sorted(r["name"] for r in generated) == [
        "local-secret-orders-db-password",
        "local-secret-payments-api-key",
    ]
    assert all(r["inputs"]["length"] == 32 for r in generated)
    assert typed_inputs.judge(generated) == []


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_staging_and_prod_need_no_pulumi_config_secret(stack: str) -> None:
    rendered = preview.render(ROOT, stack)
    assert [k for k in rendered.required if k.missing] == []


def test_a_generated_secret_outside_dev_is_refused(tmp_path: Path) -> None:
    from tests.conftest import copy_project

    project = copy_project(tmp_path / "p", ("staging", "staging-platform"))
    orders = project / "services" / "orders.yaml"
    doc = yaml.safe_load(orders.read_text())
    doc["environments"]["staging"]["secrets"][0]["source"] = "generated"
    orders.write_text(yaml.safe_dump(doc))
    with pytest.raises(BadInput, match="for dev only") as err:
        preview.render(project, "staging")
    assert err.value.field == "secrets"


def test_a_cloud_target_image_without_digest_is_refused(tmp_path: Path) -> None:
    from tests.conftest import copy_project

    project = copy_project(tmp_path / "p", ("staging", "staging-platform"))
    inventory = project / "services" / "inventory.yaml"
    doc = yaml.safe_load(inventory.read_text())
    del doc["version"]["digest"]
    inventory.write_text(yaml.safe_dump(doc))
    with pytest.raises(BadInput, match="by digest") as err:
        preview.render(project, "staging")
    assert err.value.field == "version.digest"


def test_every_stack_previews_with_its_policy_config() -> None:
    for stack_file in ROOT.glob("Pulumi.*.yaml"):
        stack = stack_file.name.removeprefix("Pulumi.").removesuffix(".yaml")
        config = ROOT / "policies" / "config" / f"{stack}.json"
        assert config.is_file(), stack
        assert json.loads(config.read_text())


def test_services_provider_keeps_the_urn_of_the_single_stack_provider(
    stacks: dict[str, list[dict[str, Any]]],
) -> None:
    """Before the layers, the workloads' provider was the cluster component's child in the
    same stack; the alias lets a stack migrated in place keep its workloads on it."""
    providers = {r["name"]: r for r in stacks["prod"] if r["type"] == "pulumi:providers:kubernetes"}
    assert providers["aws-us-east-1-k8s"]["aliases"] == [
        "urn:pulumi:prod::slipway::slipway:stacks:Target$slipway:aws:EksCluster"
        "$pulumi:providers:kubernetes::aws-us-east-1-k8s"
    ]
    assert providers["gcp-europe-west1-k8s"]["aliases"] == [
        "urn:pulumi:prod::slipway::slipway:stacks:Target$slipway:gcp:GkeCluster"
        "$pulumi:providers:kubernetes::gcp-europe-west1-k8s"
    ]
    assert providers["aws-us-east-1-k8s-crds"]["aliases"] == []


def ci_reach(records: list[dict[str, Any]], cidrs: set[str], ci_role: str) -> list[str]:
    """Why CI (egress `cidrs`, role `ci_role`) could not reach a cluster of these records."""
    problems = []
    entries = {
        r["inputs"].get("principalArn") for r in by_type(records, "aws:eks/accessEntry:AccessEntry")
    }
    for r in by_type(records, "aws:eks/cluster:Cluster"):
        vpc = r["inputs"]["vpcConfig"]
        if not vpc.get("endpointPublicAccess") or not cidrs <= set(vpc["publicAccessCidrs"]):
            problems.append(f"{r['name']}: API not public to {sorted(cidrs)}")
        if ci_role not in entries:
            problems.append(f"{r['name']}: no access entry for {ci_role}")
    for r in by_type(records, "gcp:container/cluster:Cluster"):
        nets = r["inputs"]["masterAuthorizedNetworksConfig"]["cidrBlocks"]
        if not cidrs <= {n["cidrBlock"] for n in nets}:
            problems.append(f"{r['name']}: {sorted(cidrs)} not authorized")
        if r["inputs"]["privateClusterConfig"]["enablePrivateEndpoint"]:
            problems.append(f"{r['name']}: private endpoint only")
    return problems


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_ci_runners_reach_every_cluster_of_the_platform(
    stacks: dict[str, list[dict[str, Any]]], env: str
) -> None:
    doc = yaml.safe_load((ROOT / f"Pulumi.{env}-platform.yaml").read_text())
    targets = doc["config"]["slipway:targets"]
    cidrs = {c for t in targets for c in t["cluster"]["publicAccessCidrs"]}
    (ci_role,) = {a for t in targets for a in t["cluster"].get("ciPrincipalArns", [])}
    assert cidrs
    assert ci_reach(stacks[f"{env}-platform"], cidrs, ci_role) == []


def test_a_private_cluster_or_a_missing_ci_entry_is_caught(
    stacks: dict[str, list[dict[str, Any]]],
) -> None:
    import copy

    records = copy.deepcopy(stacks["prod-platform"])
    for r in by_type(records, "aws:eks/cluster:Cluster"):
        r["inputs"]["vpcConfig"]["endpointPublicAccess"] = False
    problems = ci_reach(records, {"203.0.113.0/26"}, "arn:aws:iam::111122223333:role/other")
    assert any("API not public" in p for p in problems)
    assert any("no access entry" in p for p in problems)


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_clusters_pools_keys_and_registries_are_protected_in_staging_and_prod(
    stacks: dict[str, list[dict[str, Any]]], env: str
) -> None:
    stateful = re.compile(
        r"^(aws:eks/(cluster|nodeGroup)|aws:kms/key|aws:ecr/repository|gcp:container/"
        r"(cluster|nodePool)|gcp:kms/(keyRing|cryptoKey)|gcp:artifactregistry/repository):"
    )
    found = [r for r in stacks[f"{env}-platform"] if stateful.match(r["type"])]
    assert len(found) >= 6
    assert [r["name"] for r in found if not r["protect"]] == []


def test_dev_protects_nothing(stacks: dict[str, list[dict[str, Any]]]) -> None:
    assert [r["name"] for r in stacks["dev"] if r["protect"]] == []


def _access_config(records: list[Any]) -> list[Any]:
    return [
        r["inputs"]["accessConfig"]["bootstrapClusterCreatorAdminPermissions"]
        for r in by_type(records, "aws:eks/cluster:Cluster")
    ]


def test_listed_principals_replace_the_creators_own_admin_entry(
    stacks: dict[str, list[dict[str, Any]]],
) -> None:
    """CI creates the cluster and is listed: EKS's own creator entry would collide with ours."""
    assert _access_config(stacks["staging-platform"]) == [False]


@pytest.mark.parametrize(("setting", "expected"), [(None, True), (False, False)])
def test_without_listed_principals_the_creator_keeps_admin_unless_told(
    tmp_path: Path, setting: bool | None, expected: bool
) -> None:
    from tests.conftest import copy_project

    project = copy_project(tmp_path / "p", ("staging",))
    path = project / "Pulumi.staging-platform.yaml"
    doc = yaml.safe_load(path.read_text())
    cluster = doc["config"]["slipway:targets"][0]["cluster"]
    del cluster["ciPrincipalArns"], cluster["adminPrincipalArns"]
    if setting is not None:
        cluster["bootstrapCreatorAdmin"] = setting
    path.write_text(yaml.safe_dump(doc))
    if setting is False:
        with pytest.raises(BadInput, match="nobody could reach the cluster"):
            preview.render(project, "staging-platform")
        return
    rendered = preview.render(project, "staging-platform")
    assert _access_config(rendered.resources) == [expected]


def _edit(path: Path, change: Any) -> None:
    doc = yaml.safe_load(path.read_text())
    change(doc["config"])
    path.write_text(yaml.safe_dump(doc))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("staging-platfrom", "has no file Pulumi.staging-platfrom.yaml"),
        ("a/b", "is not a stack reference"),
        ("staging", "names itself"),
    ],
)
def test_a_platform_stack_that_is_not_there_is_bad_input_naming_the_setting(
    tmp_path: Path, value: str, message: str
) -> None:
    from tests.conftest import copy_project

    project = copy_project(tmp_path / "p", ("staging",))
    _edit(project / "Pulumi.staging.yaml", lambda c: c.update({"slipway:platformStack": value}))
    with pytest.raises(BadInput, match=message) as err:
        preview.prepare(project, "staging")
    assert err.value.file == "Pulumi.staging.yaml"
    assert err.value.field == "slipway:platformStack"


def test_two_services_stacks_naming_each_other_are_refused(tmp_path: Path) -> None:
    from tests.conftest import copy_project

    project = copy_project(tmp_path / "p", ("staging", "prod"))
    _edit(project / "Pulumi.staging.yaml", lambda c: c.update({"slipway:platformStack": "prod"}))
    _edit(project / "Pulumi.prod.yaml", lambda c: c.update({"slipway:platformStack": "staging"}))
    with pytest.raises(BadInput, match="services stack too"):
        preview.prepare(project, "staging")


@pytest.mark.parametrize(("key", "value"), [("region", "us-east-2"), ("accountId", "999988887777")])
def test_targets_that_disagree_between_the_two_files_are_bad_input(
    tmp_path: Path, key: str, value: str
) -> None:
    from tests.conftest import copy_project

    project = copy_project(tmp_path / "p", ("staging",))

    def change(config: dict[str, Any]) -> None:
        config["slipway:targets"][0][key] = value
        config["slipway:allowedRegions"] = ["us-east-1", "us-east-2"]

    _edit(project / "Pulumi.staging.yaml", change)
    with pytest.raises(BadInput, match=f"{key} is '{value}' here") as err:
        preview.render(project, "staging")
    assert err.value.field == f"slipway:targets[aws-us-east-1].{key}"


def test_an_addon_the_services_need_but_the_platform_lacks_is_bad_input(tmp_path: Path) -> None:
    """dns.domain only in the services file: public services, but no cert-manager."""
    from tests.conftest import copy_project

    project = copy_project(tmp_path / "p", ("staging",))
    _edit(project / "Pulumi.staging-platform.yaml", lambda c: c.pop("slipway:dns"))
    with pytest.raises(BadInput, match="cert-manager") as err:
        preview.render(project, "staging")
    assert err.value.file == "Pulumi.staging.yaml"


def test_recorded_secret_outputs_in_the_clis_form_are_read(tmp_path: Path) -> None:
    from tests.conftest import copy_project

    project = copy_project(tmp_path / "p", ("staging",))
    outputs = {"targets": _outputs_of(project, "staging-platform")["targets"]}
    outputs["kubeconfigs"] = "[secret]"
    (project / preview.STACK_OUTPUTS).write_text(
        yaml.safe_dump({"acme/slipway/staging-platform": outputs})
    )
    job = preview.prepare(project, "staging")
    assert job.warnings == []
    assert preview.render(project, "staging").records


def _outputs_of(project: Path, stack: str) -> dict[str, Any]:
    outputs: dict[str, Any] = {}
    preview.run_job(preview.prepare(project, stack), outputs=outputs)
    return outputs


def test_ecr_replication_covers_only_the_environments_repositories(
    stacks: dict[str, list[dict[str, Any]]],
) -> None:
    (config,) = by_type(
        stacks["prod-platform"], "aws:ecr/replicationConfiguration:ReplicationConfiguration"
    )
    rules = config["inputs"]["replicationConfiguration"]["rules"]
    filters = [f for rule in rules for f in rule.get("repositoryFilters", [])]
    assert filters == [{"filter": "prod/", "filterType": "PREFIX_MATCH"}]


@pytest.mark.parametrize("team", ["cert-manager", "argo-rollouts", "external-secrets"])
def test_a_team_in_an_addons_namespace_is_refused(tmp_path: Path, team: str) -> None:
    """Its deny-by-default policies and restricted labels would land on the add-on."""
    from tests.conftest import copy_project

    project = copy_project(tmp_path / "p", ("dev",))
    orders = project / "services" / "orders.yaml"
    doc = yaml.safe_load(orders.read_text())
    doc["team"] = team
    orders.write_text(yaml.safe_dump(doc))
    with pytest.raises(BadInput, match="the cluster add-on") as err:
        preview.render(project, "dev")
    assert err.value.field == "team"


def test_services_stack_exports_the_name_servers_to_delegate_to() -> None:
    outputs = _outputs_of(ROOT, "prod")
    assert len(outputs["nameServers"]) == 4
    assert "nameServers" not in _outputs_of(ROOT, "dev")
