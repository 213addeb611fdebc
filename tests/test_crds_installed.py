"""The CRDs-installed judge: planted installs count only when they install the CRD; the real
stacks install every CRD they use (dev its own add-ons, a services stack through its platform
stack's), and a platform stack without its add-ons leaves its services stack's custom
resources reported."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from slipway import judges
from slipway import preview as pv
from slipway.judges import crds_installed as ci
from slipway.stackfile import project_name, read_stack_file
from tests.conftest import ALL_STACKS, ROOT, known_findings

Record = dict[str, Any]
ROLLOUT = "kubernetes:argoproj.io/v1alpha1:Rollout"
CERTIFICATE = "kubernetes:cert-manager.io/v1:Certificate"
VIRTUAL_SERVICE = "kubernetes:networking.istio.io/v1:VirtualService"
HTTP_ROUTE = "kubernetes:gateway.networking.k8s.io/v1:HTTPRoute"
RELEASE = "kubernetes:helm.sh/v3:Release"
CHART = "kubernetes:helm.sh/v4:Chart"
GATEWAY_API = "https://github.com/kubernetes-sigs/gateway-api/releases/download"


def rec(typ: str, inputs: dict[str, Any], name: str = "r", custom: bool = True) -> Record:
    """One record as resources.json lists it."""
    return {
        "urn": f"urn:pulumi:t::p::{typ}::{name}",
        "type": typ,
        "name": name,
        "custom": custom,
        "inputs": inputs,
    }


def cr(typ: str, name: str = "inventory", namespace: str = "commerce") -> Record:
    """A custom resource with the apiVersion and kind its token implies."""
    _, group_version, kind = typ.split(":")
    meta = {"name": name, "namespace": namespace}
    return rec(typ, {"apiVersion": group_version, "kind": kind, "metadata": meta}, name)


def helm(typ: str, chart: str, repo: str = "", **inputs: Any) -> Record:
    """A Helm install (v3 Release or v4 Chart) of `chart`, as the preview records it."""
    body: dict[str, Any] = {"chart": chart, **inputs}
    if repo:
        body["repositoryOpts"] = {"repo": repo}
    return rec(typ, body, chart, custom=typ == RELEASE)


def crd(group: str, kind: str) -> Record:
    return rec(
        "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition",
        {"spec": {"group": group, "names": {"kind": kind, "plural": kind.lower() + "s"}}},
        f"{kind.lower()}s.{group}",
    )


def findings(*records: Record) -> list[ci.Finding]:
    return ci.judge({"app": list(records)})


ARGO = "https://argoproj.github.io/argo-helm"
JETSTACK = "https://charts.jetstack.io"
ISTIO = "https://istio-release.storage.googleapis.com/charts"


def test_rollout_without_installer_names_resource_crd_and_add_on() -> None:
    (finding,) = findings(cr(ROLLOUT))
    assert (finding.group, finding.version, finding.kind) == ("argoproj.io", "v1alpha1", "Rollout")
    assert finding.installers == ("Argo Rollouts (chart argo-rollouts)",)
    text = str(finding)
    assert text.startswith("app: Rollout commerce/inventory (urn:pulumi:t::p::")
    assert "missing CRD for Rollout.argoproj.io" in text
    assert "argo-rollouts" in text


def test_argo_rollouts_release_in_another_stack_installs_it() -> None:
    stacks = {"apps": [cr(ROLLOUT)], "cluster": [helm(RELEASE, "argo-rollouts", ARGO)]}
    assert ci.judge(stacks) == []
    assert ci.judge({"apps": [cr(ROLLOUT)]}) != []


def test_argo_rollouts_installs_only_its_own_argoproj_kinds() -> None:
    release = helm(CHART, "oci://ghcr.io/argoproj/argo-helm/argo-rollouts")
    analysis = cr("kubernetes:argoproj.io/v1alpha1:AnalysisTemplate")
    workflow = cr("kubernetes:argoproj.io/v1alpha1:Workflow")
    (finding,) = findings(release, cr(ROLLOUT), analysis, workflow)
    assert finding.kind == "Workflow"
    assert finding.installers == ()
    assert "no known add-on" in str(finding)


def test_argo_rollouts_with_install_crds_false_installs_nothing() -> None:
    release = helm(RELEASE, "argo-rollouts", ARGO, values={"installCRDs": False})
    assert [f.kind for f in findings(release, cr(ROLLOUT))] == ["Rollout"]


def test_explicit_crd_record_installs_its_kind_only() -> None:
    assert findings(crd("argoproj.io", "Rollout"), cr(ROLLOUT)) == []
    analysis = cr("kubernetes:argoproj.io/v1alpha1:AnalysisTemplate")
    assert [f.kind for f in findings(crd("argoproj.io", "Rollout"), analysis)] == [
        "AnalysisTemplate"
    ]


def test_cert_manager_chart_installs_no_crd_by_default() -> None:
    (finding,) = findings(helm(RELEASE, "cert-manager", JETSTACK), cr(CERTIFICATE))
    assert "CRD for Certificate.cert-manager.io" in str(finding)
    assert finding.installers == ("cert-manager (chart cert-manager, values crds.enabled: true)",)
    off = helm(CHART, "cert-manager", JETSTACK, values={"crds": {"enabled": False}})
    assert len(findings(off, cr(CERTIFICATE))) == 1


@pytest.mark.parametrize(
    "values",
    [
        {"crds": {"enabled": True}},
        {"installCRDs": True},
        {"crds": {"enabled": False}, "installCRDs": True},
    ],
)
def test_cert_manager_chart_asked_for_crds_installs_them(values: dict[str, Any]) -> None:
    release = helm(CHART, "cert-manager", JETSTACK, values=values)
    order = cr("kubernetes:acme.cert-manager.io/v1:Order")
    assert findings(release, cr(CERTIFICATE), order) == []


def test_unknown_value_does_not_count_as_asked() -> None:
    release = helm(RELEASE, "cert-manager", JETSTACK, values={"crds": {"enabled": "[unknown]"}})
    assert len(findings(release, cr(CERTIFICATE))) == 1


def test_istio_base_counts_only_from_istio_repository() -> None:
    service = cr(VIRTUAL_SERVICE)
    (finding,) = findings(helm(RELEASE, "base", "https://charts.example.com"), service)
    assert finding.installers == ("Istio base (chart base)",)
    assert len(findings(helm(CHART, "base"), service)) == 1
    assert findings(helm(RELEASE, "base", ISTIO), service) == []
    assert findings(helm(CHART, "oci://gcr.io/istio-release/charts/base"), service) == []
    peer = cr("kubernetes:security.istio.io/v1:PeerAuthentication")
    assert findings(helm(RELEASE, "base", ISTIO), peer) == []


def test_skip_crds_drops_crds_shipped_in_the_crds_folder() -> None:
    release = helm(RELEASE, "base", ISTIO, skipCrds=True)
    assert len(findings(release, cr(VIRTUAL_SERVICE))) == 1


def test_gateway_api_standard_install_installs_httproute() -> None:
    config = rec(
        "kubernetes:yaml/v2:ConfigFile",
        {"file": f"{GATEWAY_API}/v1.2.1/standard-install.yaml"},
        custom=False,
    )
    gateway = cr("kubernetes:gateway.networking.k8s.io/v1:Gateway")
    assert findings(config, cr(HTTP_ROUTE), gateway) == []
    tcp = cr("kubernetes:gateway.networking.k8s.io/v1alpha2:TCPRoute")
    (finding,) = findings(config, tcp)
    assert finding.kind == "TCPRoute"
    assert "experimental-install.yaml" in str(finding)


def test_gateway_api_standard_channel_follows_the_release() -> None:
    old = f"{GATEWAY_API}/v1.0.0/standard-install.yaml"
    assert ("gateway.networking.k8s.io", "GRPCRoute") not in ci.gateway_api_kinds(old)
    new = f"{GATEWAY_API}/v1.1.0/standard-install.yaml"
    assert ("gateway.networking.k8s.io", "GRPCRoute") in ci.gateway_api_kinds(new)
    assert ci.gateway_api_kinds("https://example.com/standard-install.yaml") == set()


def test_gateway_api_experimental_install_in_a_config_group() -> None:
    group = rec(
        "kubernetes:yaml/v2:ConfigGroup",
        {"files": [f"{GATEWAY_API}/v1.3.0/experimental-install.yaml"]},
        custom=False,
    )
    tcp = cr("kubernetes:gateway.networking.k8s.io/v1alpha2:TCPRoute")
    assert findings(group, tcp, cr(HTTP_ROUTE)) == []


def test_config_group_inline_crds_install() -> None:
    obj = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "spec": {"group": "argoproj.io", "names": {"kind": "Rollout"}}}  # fmt: skip
    group = rec("kubernetes:yaml/v2:ConfigGroup", {"objs": [obj]}, custom=False)
    assert findings(group, cr(ROLLOUT)) == []
    text = "kind: CustomResourceDefinition\nspec:\n  group: argoproj.io\n  names: {kind: Rollout}\n"
    group = rec("kubernetes:yaml/v2:ConfigGroup", {"yaml": [text]}, custom=False)
    assert findings(group, cr(ROLLOUT)) == []


def test_whole_group_entries_and_the_other_add_ons() -> None:
    pairs = [
        (helm(RELEASE, "external-secrets", "https://charts.external-secrets.io"),
         ["kubernetes:external-secrets.io/v1:ExternalSecret",
          "kubernetes:generators.external-secrets.io/v1alpha1:Password"]),
        (helm(CHART, "kube-prometheus-stack", "https://prometheus-community.github.io/helm-charts"),
         ["kubernetes:monitoring.coreos.com/v1:ServiceMonitor"]),
        (helm(CHART, "prometheus-operator-crds", "https://prometheus-community.github.io/helm-charts"),
         ["kubernetes:monitoring.coreos.com/v1:PrometheusRule"]),
        (helm(CHART, "open-feature-operator", "https://open-feature.github.io/open-feature-operator"),
         ["kubernetes:core.openfeature.dev/v1beta1:FeatureFlag"]),
        (helm(CHART, "oci://docker.io/envoyproxy/gateway-helm"),
         [HTTP_ROUTE, "kubernetes:gateway.envoyproxy.io/v1alpha1:SecurityPolicy"]),
        (helm(RELEASE, "aws-load-balancer-controller", "https://aws.github.io/eks-charts"),
         ["kubernetes:elbv2.k8s.aws/v1beta1:TargetGroupBinding"]),
    ]  # fmt: skip
    for install, types in pairs:
        resources = [cr(t) for t in types]
        assert len(findings(*resources)) == len(types), types
        assert findings(install, *resources) == [], install["inputs"]
    crds_off = {"crds": {"enabled": False}}
    stack = helm(CHART, "kube-prometheus-stack", values=crds_off)
    assert len(findings(stack, cr("kubernetes:monitoring.coreos.com/v1:ServiceMonitor"))) == 1


BUILT_IN = [
    "kubernetes:apps/v1:Deployment",
    "kubernetes:core/v1:Service",
    "kubernetes:policy/v1:PodDisruptionBudget",
    "kubernetes:networking.k8s.io/v1:Ingress",
    "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition",
]


@pytest.mark.parametrize("typ", BUILT_IN)
def test_built_in_kinds_are_never_findings(typ: str) -> None:
    record = cr(typ)
    assert ci.custom_resource_kind(record) is None
    assert findings(record) == []


def test_components_and_providers_are_skipped() -> None:
    skipped = [
        rec(ROLLOUT, {}, custom=False),
        rec("pulumi:providers:kubernetes", {"kubeconfig": "x"}),
        rec("slipway:apps:Microservice", {}, custom=False),
        rec("kubernetes:yaml:ConfigFile", {}, custom=False),
        helm(CHART, "argo-rollouts"),
    ]
    assert [ci.custom_resource_kind(r) for r in skipped] == [None] * len(skipped)
    assert findings(*skipped) == []


def test_resource_named_from_metadata_or_pulumi_name() -> None:
    cluster_scoped = rec(
        "kubernetes:cert-manager.io/v1:ClusterIssuer", {"metadata": {"name": "le"}}, "issuer"
    )
    auto_named = rec(ROLLOUT, {"metadata": {"namespace": "web", "name": "[unknown]"}}, "web-ro")
    names = {f.resource for f in findings(cluster_scoped, auto_named)}
    assert names == {"ClusterIssuer le", "Rollout web/web-ro"}


def test_findings_are_in_stack_then_urn_order() -> None:
    stacks = {
        "prod": [cr(ROLLOUT, "b"), cr(ROLLOUT, "a")],
        "dev": [cr(CERTIFICATE, "c")],
    }
    order = [(f.stack, f.urn.rsplit("::", 1)[1]) for f in ci.judge(stacks)]
    assert order == [("dev", "c"), ("prod", "a"), ("prod", "b")]


# --- the real stacks ------------------------------------------------------------------------


def builds_on() -> dict[str, list[str]]:
    """Which stack each stack builds on, from the stack files (as scripts/judges.py reads it)."""
    project = project_name(ROOT)
    out = {}
    for stack in ALL_STACKS:
        platform = pv.platform_stack_of(dict(read_stack_file(ROOT, stack).config), project)
        out[stack] = [platform[0]] if platform else []
    return out


def without_addons(records: list[Record]) -> list[Record]:
    """A stack's records with its Helm releases (the cluster add-ons) left out."""
    return [r for r in records if r["type"] not in ci.HELM_TYPES]


def test_services_stacks_build_on_their_platform_stacks() -> None:
    assert builds_on() == {
        "dev": [],
        "staging-platform": [],
        "staging": ["staging-platform"],
        "prod-platform": [],
        "prod": ["prod-platform"],
    }


@pytest.mark.parametrize("stack", ALL_STACKS)
def test_real_stacks_report_exactly_the_known_defects(
    stacks: dict[str, list[Record]], stack: str
) -> None:
    """What the judge finds on each stack is what tests/data/known-findings.yaml lists: none
    today, each stack's custom resources are installed by it or the stack it builds on."""
    found = ci.judge(stacks, builds_on())
    mine = [f for f in found if f.stack == stack]
    assert {str(f).removeprefix(f"{stack}: ") for f in mine} == known_findings(
        "crds-installed", stack
    )
    assert known_findings("crds-installed", stack) == set()
    # not vacuous: every stack has custom resources to judge
    assert any(ci.custom_resource_kind(r) is not None for r in stacks[stack]), stack


def test_a_platform_stack_without_its_add_ons_leaves_every_custom_resource_reported(
    stacks: dict[str, list[Record]],
) -> None:
    """prod's CRDs come from prod-platform's add-ons alone: dropped there, each custom
    resource of prod (and the platform's own ClusterIssuers and GatewayClasses) is reported,
    naming the add-on that installs it, though dev and staging-platform install most of
    those kinds; the other stacks stay clean."""
    planted = {**stacks, "prod-platform": without_addons(stacks["prod-platform"])}
    found = ci.judge(planted, builds_on())
    assert {f.stack for f in found} == {"prod", "prod-platform"}
    for stack in ("prod", "prod-platform"):
        crs = {r["urn"] for r in stacks[stack] if ci.custom_resource_kind(r) is not None}
        assert crs and {f.urn for f in found if f.stack == stack} == crs, stack
    assert all(f.installers for f in found)
    kinds = {f.kind for f in found if f.stack == "prod"}
    assert {"Rollout", "ServiceMonitor", "ExternalSecret", "VirtualService", "HTTPRoute"} <= kinds
    # Counted over every stack (no `builds_on`), the other stacks' add-ons would hide all
    # but the Argo Rollouts kinds, which only prod-platform installs.
    union = {f.kind for f in ci.judge(planted) if f.stack == "prod"}
    assert union == {"Rollout", "AnalysisTemplate"}


def test_a_services_stack_counts_only_its_own_platform(stacks: dict[str, list[Record]]) -> None:
    """staging-platform without its add-ons: staging's custom resources are reported though
    prod-platform installs every kind staging uses."""
    planted = {**stacks, "staging-platform": without_addons(stacks["staging-platform"])}
    found = ci.judge(planted, builds_on())
    assert {f.stack for f in found} == {"staging", "staging-platform"}
    crs = {r["urn"] for r in stacks["staging"] if ci.custom_resource_kind(r) is not None}
    assert crs and {f.urn for f in found if f.stack == "staging"} == crs
    assert [f for f in ci.judge(planted) if f.stack == "staging"] == []


def test_every_kubernetes_manifest_with_a_non_core_api_group_is_judged(
    stacks: dict[str, list[Record]],
) -> None:
    """Independent of the SDK lookup: a record whose apiVersion group has a dot and is not a
    Kubernetes group (`*.k8s.io` other than Gateway API) is a custom resource."""
    for stack, records in stacks.items():
        for record in records:
            if not record["type"].startswith("kubernetes:") or not record.get("custom", True):
                continue
            group = str(record["inputs"].get("apiVersion", "")).rpartition("/")[0]
            foreign = "." in group and (
                not group.endswith("k8s.io") or group == "gateway.networking.k8s.io"
            )
            assert (ci.custom_resource_kind(record) is not None) == foreign, (stack, record["urn"])


# --- the command line -----------------------------------------------------------------------


def _write(tmp_path: Path, stack: str, data: Any) -> Path:
    path = tmp_path / stack / "resources.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(data))
    return path


def test_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clean = _write(tmp_path, "dev", [cr("kubernetes:apps/v1:Deployment")])
    assert ci.main([str(clean)]) == 0
    assert (
        capsys.readouterr()
        .err.strip()
        .endswith("crds_installed: 0 custom resources, 0 without an installed CRD")
    )
    apps = _write(tmp_path, "apps", [cr(ROLLOUT), cr(CERTIFICATE)])
    cluster = _write(tmp_path, "cluster", [helm(RELEASE, "argo-rollouts", ARGO)])
    assert ci.main([str(apps), str(cluster)]) == 1
    out, err = capsys.readouterr()
    (finding,) = ci.judge({"apps": judges.load(apps), "cluster": judges.load(cluster)})
    assert out.splitlines() == [str(finding)]
    assert out.startswith("apps: Certificate commerce/inventory")
    assert err.strip().splitlines()[-1] == (
        "crds_installed: 2 custom resources, 1 without an installed CRD"
    )


def test_cli_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope" / "resources.json"
    assert ci.main([str(missing)]) == 2
    assert str(missing) in capsys.readouterr().err
    not_list = _write(tmp_path, "dev", {"type": "x"})
    assert ci.main([str(not_list)]) == 2
    assert str(not_list) in capsys.readouterr().err
    not_json = tmp_path / "bad.json"
    not_json.write_text("{")
    assert ci.main([str(not_json)]) == 2
    assert ci.main([]) == 2
