"""ClusterAddons: the pinned releases each setting installs, their CRD switches, the install
order, and what the offline judges make of the records."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pydantic import ValidationError

from slipway.engine import Record
from slipway.judges import crds_installed as ci
from slipway.judges import typed_inputs
from slipway_components.addons import (
    CHARTS,
    CLUSTER_ISSUER,
    ENVOY_CONTROLLER,
    GATEWAY_CLASS,
    GATEWAY_PLUGIN,
    GATEWAY_PLUGIN_URL,
    LBC_SERVICE_ACCOUNT,
    NAMESPACES,
    ROLLOUTS_IMAGE_TAG,
    SYSTEM_NAMESPACES,
    ClusterAddons,
    ClusterAddonsArgs,
)
from tests.cloud_mocks import CloudMocks, RecordingMonitor, run
from tests.conftest import records_of

REPO = Path(__file__).resolve().parents[1]
RELEASE = "kubernetes:helm.sh/v3:Release"
NAMESPACE = "kubernetes:core/v1:Namespace"
ISSUER = "kubernetes:cert-manager.io/v1:ClusterIssuer"
GATEWAY_CLASS_TYPE = "kubernetes:gateway.networking.k8s.io/v1:GatewayClass"
TAGS = {"team": "platform", "cost-center": "platform"}
AWS = {
    "cluster_name": "prod-aws-us-east-1",
    "vpc_id": "vpc-0123456789abcdef0",
    "region": "us-east-1",
    "load_balancer_role_arn": "arn:aws:iam::123456789012:role/prod-use1-lbc",
}
ALL_ON = {
    "prometheus": True,
    "rollouts": True,
    "external_secrets": True,
    "cert_manager": True,
    "acme_email": "platform@example.com",
    "openfeature": True,
}

# The custom resources the stacks render, per setting that renders them.
KINDS = {
    "istio": [
        ("networking.istio.io", "VirtualService"),
        ("networking.istio.io", "DestinationRule"),
        ("security.istio.io", "PeerAuthentication"),
    ],
    "gateway-api": [
        ("gateway.networking.k8s.io", "Gateway"),
        ("gateway.networking.k8s.io", "HTTPRoute"),
    ],
    "prometheus": [
        ("monitoring.coreos.com", "ServiceMonitor"),
        ("monitoring.coreos.com", "PrometheusRule"),
    ],
    "rollouts": [("argoproj.io", "Rollout"), ("argoproj.io", "AnalysisTemplate")],
    "external_secrets": [
        ("external-secrets.io", "ExternalSecret"),
        ("external-secrets.io", "SecretStore"),
    ],
    "openfeature": [
        ("core.openfeature.dev", "FeatureFlag"),
        ("core.openfeature.dev", "FeatureFlagSource"),
    ],
    "cert_manager": [("cert-manager.io", "ClusterIssuer"), ("cert-manager.io", "Certificate")],
}


def make_args(cloud: str = "existing", layer: str = "none", **over: Any) -> ClusterAddonsArgs:
    base: dict[str, Any] = {"cloud": cloud, "traffic_layer": layer, "tags": TAGS}
    if cloud == "aws":
        base.update(AWS)
    base["prometheus"] = False
    return ClusterAddonsArgs(**{**base, **over})


def render(args: ClusterAddonsArgs) -> dict[str, Record]:
    """The records of one ClusterAddons under the mock engine, by resource name."""
    return records_of(lambda: ClusterAddons("c", args))


def releases(records: dict[str, Record]) -> dict[str, Record]:
    """Helm releases by release name (the add-on)."""
    return {r.inputs["name"]: r for r in records.values() if r.type == RELEASE}


def with_deps(args: ClusterAddonsArgs) -> tuple[RecordingMonitor, list[ClusterAddons]]:
    mon = RecordingMonitor(CloudMocks())
    pulumi.runtime.set_mocks(CloudMocks(), project="slipway", stack="test", monitor=mon)
    built: list[ClusterAddons] = []
    run(lambda: built.append(ClusterAddons("c", args)))
    return mon, built


# ---- which releases, at which versions


LAYER_RELEASES = {
    ("existing", "none"): set(),
    ("existing", "istio"): {"istio-base", "istio-cni", "istiod"},
    ("existing", "gateway-api"): {"envoy-gateway"},
    ("aws", "none"): {"aws-load-balancer-controller", "envoy-gateway", "metrics-server"},
    ("aws", "istio"): {"aws-load-balancer-controller", "envoy-gateway", "istio-base"}
    | {"istio-cni", "istiod", "metrics-server"},
    ("aws", "gateway-api"): {"aws-load-balancer-controller", "envoy-gateway", "metrics-server"},
    ("gcp", "none"): set(),
    ("gcp", "istio"): {"istio-base", "istio-cni", "istiod"},
    ("gcp", "gateway-api"): {"envoy-gateway"},
}


@pytest.mark.parametrize(("cloud", "layer"), sorted(LAYER_RELEASES))
def test_each_cloud_and_layer_installs_exactly_its_releases(cloud: str, layer: str) -> None:
    found = releases(render(make_args(cloud, layer)))
    assert set(found) == LAYER_RELEASES[cloud, layer]


@pytest.mark.parametrize(
    ("option", "addon"),
    [
        ("prometheus", "kube-prometheus-stack"),
        ("rollouts", "argo-rollouts"),
        ("external_secrets", "external-secrets"),
    ],
)
def test_each_option_adds_exactly_its_release(option: str, addon: str) -> None:
    assert set(releases(render(make_args(**{option: True})))) == {addon}


def test_cert_manager_and_openfeature_add_their_releases() -> None:
    mail = {"acme_email": "platform@example.com"}
    assert set(releases(render(make_args(cert_manager=True, **mail)))) == {"cert-manager"}
    both = releases(render(make_args(cert_manager=True, openfeature=True, **mail)))
    assert set(both) == {"cert-manager", "open-feature-operator"}


@pytest.mark.parametrize("layer", ["istio", "gateway-api"])
@pytest.mark.parametrize("cloud", ["aws", "gcp", "existing"])
def test_every_release_is_pinned_to_its_chart(cloud: str, layer: str) -> None:
    found = releases(render(make_args(cloud, layer, **ALL_ON)))
    assert found
    for addon, rec in found.items():
        pin = CHARTS[addon]
        version = rec.inputs.get("version")
        assert version == pin.version, addon
        assert version and "latest" not in version.lower(), addon
        assert rec.inputs["chart"] == pin.chart, addon
        assert rec.inputs.get("repositoryOpts", {}).get("repo") == pin.repo, addon
        assert "skipCrds" not in rec.inputs, addon
        assert rec.inputs["atomic"] is True and rec.inputs["waitForJobs"] is True, addon


def _strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


def test_no_value_asks_for_a_latest_image() -> None:
    for cloud, layer in (("aws", "istio"), ("gcp", "gateway-api")):
        for addon, rec in releases(render(make_args(cloud, layer, **ALL_ON))).items():
            bad = [s for s in _strings(rec.inputs["values"]) if re.search(r"(^|:)latest$", s)]
            assert bad == [], addon


def test_versions_doc_has_a_row_for_every_pin() -> None:
    doc = (REPO / "docs" / "addons.md").read_text()
    section = doc.split("## Pinned charts", 1)[1].split("\n## ", 1)[0]
    for addon, pin in CHARTS.items():
        rows = [line for line in section.splitlines() if line.startswith(f"| `{addon}` |")]
        assert len(rows) == 1, f"docs/addons.md: no single row for {addon}"
        cells = [c.strip().strip("`") for c in rows[0].strip("|").split("|")]
        assert pin.chart in cells and pin.version in cells and pin.app_version in cells, addon


# ---- CRDs: switched on, and what the judge makes of them


def test_crd_switches_are_set_explicitly() -> None:
    found = releases(render(make_args("aws", "istio", **ALL_ON)))
    values = {addon: rec.inputs["values"] for addon, rec in found.items()}
    assert values["cert-manager"]["crds"]["enabled"] is True
    assert values["kube-prometheus-stack"]["crds"]["enabled"] is True
    assert values["envoy-gateway"]["crds"]["enabled"] is True
    assert values["argo-rollouts"]["installCRDs"] is True
    assert values["external-secrets"]["installCRDs"] is True
    assert values["istio-base"]["base"]["enableCRDTemplates"] is True


@pytest.mark.parametrize(("cloud", "layer"), [("existing", "istio"), ("existing", "gateway-api")])
def test_judge_recognises_every_rendered_kind_when_its_option_is_on(cloud: str, layer: str) -> None:
    records = [r.to_json() for r in render(make_args(cloud, layer, **ALL_ON)).values()]
    have = ci.installed(records)
    wanted = [k for key in (layer, *ALL_ON) if key in KINDS for k in KINDS[key]]
    missing = [k for k in wanted if not ci.covered(have, *k)]
    assert missing == []


def test_aws_gets_the_gateway_api_with_any_layer() -> None:
    have = ci.installed([r.to_json() for r in render(make_args("aws", "istio")).values()])
    assert all(ci.covered(have, *k) for k in KINDS["istio"] + KINDS["gateway-api"])


@pytest.mark.parametrize("off", ["prometheus", "rollouts", "external_secrets", "openfeature"])
def test_judge_misses_the_kinds_of_an_option_left_off(off: str) -> None:
    args = make_args("existing", "istio", **{**ALL_ON, off: False})
    have = ci.installed([r.to_json() for r in render(args).values()])
    assert not any(ci.covered(have, *k) for k in KINDS[off]), off
    others = [k for key in ALL_ON if key in KINDS and key != off for k in KINDS[key]]
    assert all(ci.covered(have, *k) for k in others)


def test_judge_misses_cert_manager_kinds_without_it() -> None:
    args = make_args("existing", "istio", **{**ALL_ON, "cert_manager": False, "openfeature": False})
    have = ci.installed([r.to_json() for r in render(args).values()])
    assert not any(ci.covered(have, *k) for k in KINDS["cert_manager"])


@pytest.mark.parametrize(
    ("cloud", "layer", "absent"),
    [("existing", "gateway-api", "istio"), ("existing", "istio", "gateway-api")],
)
def test_judge_misses_the_other_layers_kinds(cloud: str, layer: str, absent: str) -> None:
    have = ci.installed([r.to_json() for r in render(make_args(cloud, layer, **ALL_ON)).values()])
    assert not any(ci.covered(have, *k) for k in KINDS[absent])


def test_nothing_installed_when_everything_is_off() -> None:
    assert ci.installed([r.to_json() for r in render(make_args()).values()]) == set()


@pytest.mark.parametrize("cloud", ["aws", "gcp", "existing"])
def test_own_custom_resources_have_their_crds(cloud: str) -> None:
    layer = "gateway-api" if cloud == "existing" else "none"
    records = [r.to_json() for r in render(make_args(cloud, layer, **ALL_ON)).values()]
    assert ci.judge({"addons": records}) == []


@pytest.mark.parametrize(("cloud", "layer"), [("aws", "istio"), ("gcp", "gateway-api")])
def test_typed_inputs_judge_finds_nothing(cloud: str, layer: str) -> None:
    records = [r.to_json() for r in render(make_args(cloud, layer, **ALL_ON)).values()]
    assert typed_inputs.judge(records) == []


# ---- install order and what the services layer waits for


def test_istiod_waits_for_base_and_the_cni_plugin() -> None:
    mon, _ = with_deps(make_args("existing", "istio"))
    assert mon.depends("c-istiod", on="c-istio-base")
    assert mon.depends("c-istiod", on="c-istio-cni")
    assert mon.depends("c-istio-cni", on="c-istio-base")
    assert not mon.depends("c-istio-base", on="c-istiod")


@pytest.mark.parametrize("cloud", ["existing", "gcp"])
def test_sidecars_use_the_cni_plugin(cloud: str) -> None:
    found = releases(render(make_args(cloud, "istio")))
    assert found["istiod"].inputs["values"]["pilot"]["cni"]["enabled"] is True
    platform = {a: found[a].inputs["values"]["global"].get("platform") for a in found}
    assert platform == dict.fromkeys(found, "gke" if cloud == "gcp" else None)


def test_cluster_issuer_waits_for_cert_manager_and_solves_through_the_gateway() -> None:
    args = make_args("aws", "none", cert_manager=True, acme_email="platform@example.com")
    mon, _ = with_deps(args)
    assert mon.depends("c-cluster-issuer", on="c-cert-manager")
    # cert-manager's Gateway API shim needs the CRDs at start
    assert mon.depends("c-cert-manager", on="c-envoy-gateway")
    issuer = render(args)["c-cluster-issuer"]
    assert issuer.type == ISSUER
    assert issuer.inputs["metadata"]["name"] == CLUSTER_ISSUER == "letsencrypt"
    acme = issuer.inputs["spec"]["acme"]
    assert acme["email"] == "platform@example.com"
    (ref,) = acme["solvers"][0]["http01"]["gatewayHTTPRoute"]["parentRefs"]
    assert (ref["name"], ref["namespace"], ref["sectionName"]) == ("public", "gateway", "http")


@pytest.mark.parametrize(
    ("cloud", "layer", "shim"),
    [("aws", "none", True), ("gcp", "none", True), ("existing", "istio", False)],
)
def test_cert_manager_gateway_shim_only_where_the_gateway_api_is(
    cloud: str, layer: str, shim: bool
) -> None:
    args = make_args(cloud, layer, cert_manager=True, acme_email="platform@example.com")
    values = releases(render(args))["cert-manager"].inputs["values"]
    assert values["config"]["gatewayAPI"]["enabled"] is shim


def test_gateway_class_eg_is_served_by_envoy_gateway() -> None:
    mon, (addons,) = with_deps(make_args("existing", "gateway-api"))
    assert addons.gateway_class == GATEWAY_CLASS == "eg"
    assert mon.depends("c-gatewayclass", on="c-envoy-gateway")
    gc = render(make_args("existing", "gateway-api"))["c-gatewayclass"]
    assert gc.type == GATEWAY_CLASS_TYPE
    assert gc.inputs["metadata"]["name"] == "eg"
    assert gc.inputs["spec"]["controllerName"] == ENVOY_CONTROLLER


def test_no_gateway_class_without_envoy_gateway() -> None:
    records = render(make_args("gcp", "istio"))
    assert not any(r.type == GATEWAY_CLASS_TYPE for r in records.values())
    _, (addons,) = with_deps(make_args("gcp", "istio"))
    assert addons.gateway_class is None


def test_envoy_gateway_waits_for_the_load_balancer_controller_on_aws() -> None:
    mon, _ = with_deps(make_args("aws", "gateway-api"))
    assert mon.depends("c-envoy-gateway", on="c-aws-load-balancer-controller")


def test_openfeature_waits_for_cert_manager() -> None:
    mon, _ = with_deps(make_args(**ALL_ON))
    assert mon.depends("c-open-feature-operator", on="c-cert-manager")


def test_crds_ready_is_every_crd_installer_and_istiod() -> None:
    _, (addons,) = with_deps(make_args("aws", "istio", **ALL_ON))
    ready = {id(r) for r in addons.crds_ready}
    expected = set(addons.releases) - {"istio-cni", "metrics-server"}
    assert ready == {id(addons.releases[a]) for a in expected}
    # installed, but bring no CRD
    assert {"istio-cni", "metrics-server"} <= set(addons.releases)


# ---- secure defaults


def test_namespaces_are_labelled_for_pod_security_and_ownership() -> None:
    records = render(make_args("aws", "istio", **ALL_ON))
    spaces = {
        r.inputs["metadata"]["name"]: r.inputs["metadata"]["labels"]
        for r in records.values()
        if r.type == NAMESPACE
    }
    for addon, rec in releases(records).items():
        if rec.inputs["namespace"] in SYSTEM_NAMESPACES:
            continue  # the cluster's own (kube-system)
        labels = spaces[rec.inputs["namespace"]]
        assert labels["pod-security.kubernetes.io/enforce"] == NAMESPACES[addon][1], addon
        assert labels["pod-security.kubernetes.io/warn"] == "restricted", addon
        assert (labels["team"], labels["cost-center"]) == ("platform", "platform")
        assert rec.inputs["createNamespace"] is False
    assert spaces["cert-manager"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert spaces["istio-cni"]["pod-security.kubernetes.io/enforce"] == "privileged"


def test_prometheus_lives_in_the_stacks_prometheus_namespace() -> None:
    records = render(make_args(prometheus=True, prometheus_namespace="observability"))
    kps = releases(records)["kube-prometheus-stack"]
    assert kps.inputs["namespace"] == "observability"
    assert "c-ns-observability" in records
    spec = kps.inputs["values"]["prometheus"]["prometheusSpec"]
    assert spec["serviceMonitorSelectorNilUsesHelmValues"] is False
    assert spec["ruleSelectorNilUsesHelmValues"] is False


@pytest.mark.parametrize("layer", ["istio", "gateway-api"])
def test_rollouts_gets_rbac_and_routing_for_its_layer_only(layer: str) -> None:
    values = releases(render(make_args("existing", layer, rollouts=True)))["argo-rollouts"]
    values = values.inputs["values"]
    providers = values["providerRBAC"]["providers"]
    assert {p for p, on in providers.items() if on} == {
        "istio" if layer == "istio" else "gatewayAPI"
    }
    assert values["controller"]["image"]["tag"] == ROLLOUTS_IMAGE_TAG
    plugins = values["controller"].get("trafficRouterPlugins", [])
    if layer == "istio":
        assert plugins == []
    else:
        assert plugins == [{"name": GATEWAY_PLUGIN, "location": GATEWAY_PLUGIN_URL}]
        assert re.search(r"/download/v\d+\.\d+\.\d+/", GATEWAY_PLUGIN_URL)


def test_rollouts_plugin_checksum_is_passed_on() -> None:
    sha = "a" * 64
    args = make_args("existing", "gateway-api", rollouts=True, rollouts_plugin_sha256=sha)
    values = releases(render(args))["argo-rollouts"].inputs["values"]
    assert values["controller"]["trafficRouterPlugins"][0]["sha256"] == sha


def test_external_secrets_serves_no_cluster_wide_stores() -> None:
    values = releases(render(make_args(external_secrets=True)))["external-secrets"]
    assert values.inputs["values"]["processClusterStore"] is False
    assert values.inputs["values"]["processClusterExternalSecret"] is False


def test_load_balancer_controller_takes_outputs_of_the_cluster() -> None:
    def program() -> None:
        # Outputs belong to the run that resolves them: made inside the program.
        outputs = {k: pulumi.Output.from_input(v) for k, v in AWS.items()}
        ClusterAddons("c", make_args("aws", "none", **outputs))

    values = releases(records_of(program))["aws-load-balancer-controller"].inputs["values"]
    assert (values["clusterName"], values["vpcId"], values["region"]) == (
        AWS["cluster_name"],
        AWS["vpc_id"],
        AWS["region"],
    )
    sa = values["serviceAccount"]
    assert sa["name"] == LBC_SERVICE_ACCOUNT
    assert sa["annotations"]["eks.amazonaws.com/role-arn"] == AWS["load_balancer_role_arn"]
    assert values["securityContext"]["capabilities"]["drop"] == ["ALL"]


# ---- bad args


def _error(**kwargs: Any) -> str:
    with pytest.raises(ValidationError) as err:
        ClusterAddonsArgs(**{"tags": TAGS, **kwargs})
    return str(err.value)


def test_cert_manager_without_acme_email_is_refused() -> None:
    assert "acme_email" in _error(cloud="existing", cert_manager=True)


def test_unknown_traffic_layer_is_refused() -> None:
    with pytest.raises(ValidationError) as err:
        ClusterAddonsArgs(cloud="existing", traffic_layer="linkerd", tags=TAGS)
    assert [e["loc"] for e in err.value.errors()] == [("traffic_layer",)]


def test_openfeature_without_cert_manager_is_refused() -> None:
    assert "cert_manager" in _error(cloud="existing", openfeature=True)


def test_aws_without_the_controllers_inputs_is_refused() -> None:
    message = _error(cloud="aws", cluster_name="c", region="us-east-1")
    assert "vpc_id" in message and "load_balancer_role_arn" in message


def test_aws_fields_elsewhere_are_refused() -> None:
    assert "vpc_id" in _error(cloud="gcp", vpc_id="vpc-1")


def test_bad_email_and_tags_are_refused() -> None:
    assert "acme_email" in _error(cloud="existing", cert_manager=True, acme_email="nobody")
    with pytest.raises(ValidationError, match="cost-center"):
        ClusterAddonsArgs(cloud="existing", tags={"team": "platform"})


@pytest.mark.parametrize(
    ("cloud", "over", "wanted"),
    [
        ("aws", {}, True),  # EKS has no metrics-server: the HPAs would never scale
        ("gcp", {}, False),  # GKE runs its own
        ("existing", {}, False),
        ("existing", {"metrics_server": True}, True),
        ("aws", {"metrics_server": False}, False),
    ],
)
def test_metrics_server_where_the_cluster_has_none(
    cloud: str, over: dict[str, Any], wanted: bool
) -> None:
    assert ("metrics-server" in make_args(cloud, **over).addons()) is wanted


def test_metrics_server_goes_to_kube_system_which_is_not_created() -> None:
    records = render(make_args("aws"))
    rel = releases(records)["metrics-server"]
    assert rel.inputs["namespace"] == "kube-system"
    assert rel.inputs["chart"] == "metrics-server" and rel.inputs["version"] == "3.13.1"
    assert rel.inputs["values"]["podDisruptionBudget"] == {"enabled": True, "minAvailable": 1}
    created = [
        r.inputs["metadata"]["name"]
        for r in records.values()
        if r.type == "kubernetes:core/v1:Namespace"
    ]
    assert "kube-system" not in created and created


# ---- the mesh data plane (`mesh`)


@pytest.mark.parametrize("cloud", ["existing", "gcp"])
def test_ambient_adds_ztunnel_after_istiod_in_a_privileged_namespace(cloud: str) -> None:
    args = make_args(cloud, "istio", mesh="ambient")
    order = args.addons()
    assert order.index("ztunnel") == order.index("istiod") + 1
    records = render(args)
    found = releases(records)
    zt = found["ztunnel"].inputs
    assert zt["namespace"] == "ztunnel" and zt["chart"] == "ztunnel"
    assert zt["version"] == CHARTS["ztunnel"].version
    ns = records["c-ns-ztunnel"].inputs["metadata"]["labels"]
    assert ns["pod-security.kubernetes.io/enforce"] == "privileged"
    assert found["istio-cni"].inputs["values"]["profile"] == "ambient"
    istiod = found["istiod"].inputs["values"]
    assert istiod["profile"] == "ambient"
    assert istiod["pilot"]["trustedZtunnelNamespace"] == "ztunnel"
    if cloud == "gcp":
        assert zt["values"]["global"]["platform"] == "gke"
    mon, _ = with_deps(args)
    assert mon.depends("c-ztunnel", on="c-istiod")


def test_sidecar_is_the_istio_default_with_the_cni_agent_and_no_ztunnel() -> None:
    for args in (make_args("existing", "istio"), make_args("existing", "istio", mesh="sidecar")):
        assert args.mesh_mode == "sidecar"
        found = releases(render(args))
        assert "ztunnel" not in found and "istio-cni" in found
        assert "profile" not in found["istio-cni"].inputs["values"]
        assert found["istiod"].inputs["values"]["pilot"]["cni"]["enabled"] is True


@pytest.mark.parametrize(
    ("layer", "mesh", "match"),
    [
        ("istio", "none", "needs a mesh data plane"),
        ("gateway-api", "sidecar", "needs traffic_layer 'istio'"),
        ("none", "ambient", "needs traffic_layer 'istio'"),
    ],
)
def test_a_mesh_that_contradicts_the_layer_is_refused(layer: str, mesh: str, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        make_args("existing", layer, mesh=mesh)
