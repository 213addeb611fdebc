"""The mesh against Pod Security, per stack (`slipway:traffic.mesh`), on rendered objects.

Every team namespace enforces `restricted`. With `sidecar` the namespaces are labelled for
injection and the Istio CNI agent is installed (no NET_ADMIN init container); with `ambient`
they are handed to ztunnel; with `none` nothing is labelled and no canary relies on a Service
that selects both tracks. STRICT mTLS keeps working for the callers outside the mesh:
Prometheus on the metrics port, the public entry's proxies on a public service's port.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from slipway import preview as pv
from slipway.errors import BadInput
from slipway.policy import run_pack
from slipway_components.addons import ClusterAddonsArgs
from stacks.build import microservice_args, plaintext_ports
from stacks.catalog import parse_service
from stacks.config import StackConfig, TargetConfig, TrafficConfig
from tests.conftest import copy_project
from tests.strategy_fixtures import by_kind, istio, make_args, run, service_doc
from tests.test_crd_judge import cv

REPO = Path(__file__).resolve().parents[1]
RELEASE = "kubernetes:helm.sh/v3:Release"
CLOUD_TARGETS = ("aws-us-east-1", "aws-eu-west-1", "gcp-europe-west1")
TEAM_NAMESPACES = ("commerce", "payments", "web")


def _render(project: Path, stack: str) -> list[Any]:
    return list(pv.render(project, stack).records)


def _dev_with(tmp: Path, traffic: str) -> list[Any]:
    """The dev stack (layer `all`: add-ons and services) with `traffic` as its traffic block."""
    project = copy_project(tmp, stacks=("dev",))
    stack_file = project / "Pulumi.dev.yaml"
    text = stack_file.read_text()
    block = re.search(r"  slipway:traffic:\n(?:    .*\n)+", text)
    assert block, "Pulumi.dev.yaml has a slipway:traffic block"
    stack_file.write_text(text.replace(block.group(0), "  slipway:traffic:\n" + traffic))
    return _render(project, "dev")


def _namespaces(records: list[Any]) -> dict[str, dict[str, str]]:
    """Team namespaces' labels by name."""
    return {
        r.inputs["metadata"]["name"]: r.inputs["metadata"]["labels"]
        for r in records
        if r.type == "kubernetes:core/v1:Namespace"
        and r.inputs["metadata"]["name"] in TEAM_NAMESPACES
    }


def _releases(records: list[Any]) -> dict[str, dict[str, Any]]:
    return {r.inputs["name"]: r.inputs for r in records if r.type == RELEASE}


@pytest.fixture(scope="module")
def modes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Any]]:
    """dev rendered with each mesh mode."""
    tmp = tmp_path_factory.mktemp("mesh")
    return {
        "none": _render(REPO, "dev"),
        "sidecar": _dev_with(tmp / "sidecar", "    layer: istio\n    mesh: sidecar\n"),
        "ambient": _dev_with(tmp / "ambient", "    layer: istio\n    mesh: ambient\n"),
    }


@pytest.fixture(scope="module")
def prod() -> dict[str, dict[str, Any]]:
    """The prod services stack's manifests, by manifest path."""
    rendered = pv.render(REPO, "prod")
    return {pv.manifest_path(r): r.inputs for r in rendered.records if pv.is_manifest(r)}


# -- namespaces and add-ons per mode --------------------------------------------------------


def test_every_team_namespace_enforces_restricted_in_every_mode(modes) -> None:
    for mode, records in modes.items():
        spaces = _namespaces(records)
        assert spaces, mode
        for name, labels in spaces.items():
            assert labels["pod-security.kubernetes.io/enforce"] == "restricted", (mode, name)


@pytest.mark.parametrize(
    ("mode", "label", "absent"),
    [
        ("sidecar", ("istio-injection", "enabled"), "istio.io/dataplane-mode"),
        ("ambient", ("istio.io/dataplane-mode", "ambient"), "istio-injection"),
    ],
)
def test_team_namespaces_carry_the_label_of_their_mode(modes, mode, label, absent) -> None:
    for name, labels in _namespaces(modes[mode]).items():
        assert labels.get(label[0]) == label[1], (mode, name)
        assert absent not in labels, (mode, name)


def test_no_mesh_no_mesh_label_and_no_istio(modes) -> None:
    for name, labels in _namespaces(modes["none"]).items():
        assert not {"istio-injection", "istio.io/dataplane-mode"} & set(labels), name
    assert not {"istiod", "istio-cni", "ztunnel"} & set(_releases(modes["none"]))


def test_sidecar_mode_installs_the_cni_agent_so_restricted_holds(modes) -> None:
    releases = _releases(modes["sidecar"])
    assert {"istio-base", "istio-cni", "istiod"} <= set(releases)
    assert "ztunnel" not in releases
    assert releases["istiod"]["values"]["pilot"]["cni"]["enabled"] is True
    assert "profile" not in releases["istiod"]["values"]


def test_ambient_mode_installs_ztunnel_and_the_ambient_profiles(modes) -> None:
    releases = _releases(modes["ambient"])
    assert {"istio-base", "istio-cni", "istiod", "ztunnel"} <= set(releases)
    assert releases["istio-cni"]["values"]["profile"] == "ambient"
    assert releases["istiod"]["values"]["profile"] == "ambient"
    assert releases["istiod"]["values"]["pilot"]["trustedZtunnelNamespace"] == "ztunnel"
    assert releases["ztunnel"]["namespace"] == "ztunnel"


def _netpol(records: list[Any], service: str) -> dict[str, Any]:
    (spec,) = [
        r.inputs["spec"]
        for r in records
        if r.type == "kubernetes:networking.k8s.io/v1:NetworkPolicy"
        and r.inputs["metadata"]["name"] == service
    ]
    return spec


def test_sidecars_may_reach_istiod_and_only_in_sidecar_mode(modes) -> None:
    def to_istiod(spec: dict[str, Any]) -> bool:
        return any(
            peer.get("namespaceSelector", {})
            .get("matchLabels", {})
            .get("kubernetes.io/metadata.name")
            == "istio-system"
            and rule.get("ports") == [{"port": 15012, "protocol": "TCP"}]
            for rule in spec["egress"]
            for peer in rule["to"]
        )

    assert to_istiod(_netpol(modes["sidecar"], "orders"))
    assert not to_istiod(_netpol(modes["ambient"], "orders"))
    assert not to_istiod(_netpol(modes["none"], "orders"))


def test_ambient_pods_admit_ztunnels_tunnel_port_from_their_callers(modes) -> None:
    ingress = _netpol(modes["ambient"], "orders")["ingress"]
    for rule in ingress:
        assert {"port": 15008, "protocol": "TCP"} in rule["ports"], rule
    # the kubelet's probes, which the CNI agent sends from this link-local address
    assert {"ipBlock": {"cidr": "169.254.7.127/32"}} in [p for r in ingress for p in r["from"]]
    for rule in _netpol(modes["sidecar"], "orders")["ingress"]:
        assert {"port": 15008, "protocol": "TCP"} not in rule["ports"], rule


# -- the stack setting -------------------------------------------------------------------------


def test_mesh_defaults_follow_the_layer_and_contradictions_are_refused() -> None:
    assert TrafficConfig(layer="istio").mesh_mode == "sidecar"
    assert TrafficConfig(layer="gateway-api").mesh_mode == "none"
    assert TrafficConfig(layer="istio", mesh="ambient").mesh_mode == "ambient"
    with pytest.raises(ValueError, match="mesh 'none' with layer 'istio'"):
        TrafficConfig(layer="istio", mesh="none")
    with pytest.raises(ValueError, match="needs layer 'istio'"):
        TrafficConfig(layer="gateway-api", mesh="sidecar")
    with pytest.raises(ValueError, match="needs a mesh data plane"):
        ClusterAddonsArgs(
            cloud="existing",
            traffic_layer="istio",
            mesh="none",
            tags={"team": "p", "cost-center": "c"},
        )


def test_each_example_stack_says_its_mesh_and_why() -> None:
    for stack in ("dev", "staging", "prod", "staging-platform", "prod-platform"):
        text = (REPO / f"Pulumi.{stack}.yaml").read_text()
        block = text.split("  slipway:traffic:\n", 1)[1].split("\n  slipway:", 1)[0]
        assert re.search(r"^    mesh: (sidecar|ambient|none)$", block, re.M), stack
        assert re.search(r"^    # mesh (sidecar|ambient|none)", block, re.M), stack


def test_services_and_platform_stacks_agree_on_the_mesh() -> None:
    def mesh(stack: str) -> str:
        doc = yaml.safe_load((REPO / f"Pulumi.{stack}.yaml").read_text())["config"]
        return TrafficConfig.model_validate(doc["slipway:traffic"]).mesh_mode

    assert mesh("prod") == mesh("prod-platform") == "sidecar"
    assert mesh("staging") == mesh("staging-platform") == "sidecar"


# -- canaries need a data plane that applies weights ---------------------------------------

CANARY_DOC = service_doc(
    strategy={"type": "canary", "weight": 0, "canary": {"version": {"tag": "1.1.0"}}}
)
TARGET = TargetConfig(name="local", cloud="existing", region="local", kubeconfig_context="kind")


def _canary_args(traffic: dict[str, str]):
    stack = StackConfig(environment="dev", targets=[TARGET], traffic=traffic)
    svc = parse_service(CANARY_DOC, "dev", "shop.yaml")
    return microservice_args(svc, stack, TARGET, {svc.name: svc}, lambda key: key)


@pytest.mark.parametrize(
    ("traffic", "why"),
    [
        ({"layer": "gateway-api"}, "selects both tracks"),
        ({"layer": "istio", "mesh": "ambient"}, "waypoint"),
    ],
    ids=["no-mesh", "ambient"],
)
def test_a_canary_without_sidecars_is_refused(traffic, why) -> None:
    """Weight 0 would still send the canary its share of pods (a third in prod's payments)."""
    with pytest.raises(BadInput, match=why) as info:
        _canary_args(traffic)
    assert info.value.field.endswith(".type")


def test_a_canary_with_sidecars_is_built() -> None:
    args = _canary_args({"layer": "istio", "mesh": "sidecar"})
    assert args.strategy.type == "canary" and args.traffic.mesh_mode == "sidecar"


# -- STRICT mTLS and the callers outside the mesh ------------------------------------------


def test_peer_authentication_is_strict_with_only_the_given_ports_permissive() -> None:
    traffic = istio().model_copy(update={"plaintext_ports": [9090]})
    pa = by_kind(run(make_args(traffic=traffic)), "PeerAuthentication")["shop"].inputs["spec"]
    assert pa["mtls"] == {"mode": "STRICT"}
    assert pa["portLevelMtls"] == {"9090": {"mode": "PERMISSIVE"}}
    plain = by_kind(run(make_args(traffic=istio())), "PeerAuthentication")["shop"].inputs
    assert "portLevelMtls" not in plain["spec"]


def test_prometheus_scrapes_the_metrics_port_and_the_serving_port_stays_strict(prod) -> None:
    for target in CLOUD_TARGETS:
        pa = prod[f"manifests/{target}/commerce/PeerAuthentication-orders.yaml"]["spec"]
        # orders serves on 8080 and exposes metrics on 9090
        assert pa["mtls"] == {"mode": "STRICT"}, target
        assert pa["portLevelMtls"] == {"9090": {"mode": "PERMISSIVE"}}, target


def test_the_public_entry_reaches_frontend(prod) -> None:
    """The gateway's proxies hold no mesh identity: frontend's routed port takes plaintext,
    and the NetworkPolicy admits the gateway's namespace there."""
    for target in CLOUD_TARGETS:
        pa = prod[f"manifests/{target}/web/PeerAuthentication-frontend.yaml"]["spec"]
        assert pa["portLevelMtls"]["8080"] == {"mode": "PERMISSIVE"}, target
        ingress = prod[f"manifests/{target}/web/NetworkPolicy-frontend.yaml"]["spec"]["ingress"]
        assert any(
            peer.get("namespaceSelector", {})
            .get("matchLabels", {})
            .get("kubernetes.io/metadata.name")
            == "gateway"
            and {"port": "http", "protocol": "TCP"} in rule["ports"]
            for rule in ingress
            for peer in rule["from"]
        ), target


def test_private_services_keep_their_serving_port_strict_without_metrics_on_it() -> None:
    doc = {**CANARY_DOC, "strategy": {"type": "rolling"}}
    doc["ports"] = [{"port": 8080}, {"name": "metrics", "port": 9090}]
    doc["slo"] = {"metricsPort": "metrics"}
    svc = parse_service(doc, "prod", "shop.yaml")
    stack = StackConfig(environment="prod", targets=[TARGET], traffic={"layer": "istio"})
    assert plaintext_ports(svc, stack, exposed=False) == [9090]
    assert plaintext_ports(svc, stack, exposed=True) == [8080, 9090]
    none = StackConfig(environment="prod", targets=[TARGET], traffic={"layer": "none"})
    assert plaintext_ports(svc, none, exposed=True) == []


def test_rendered_peer_authentications_pass_the_istio_crd_schema(prod, tmp_path) -> None:
    docs = [v for k, v in prod.items() if "/PeerAuthentication-" in k]
    assert docs and any("portLevelMtls" in d["spec"] for d in docs)
    path = tmp_path / "pa.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    findings, judged = cv.judge([path])
    assert findings == [] and judged == len(docs)


# -- docs/addons.md's examples are what the stacks render ----------------------------------


def _doc_blocks(lang: str) -> list[str]:
    text = (REPO / "docs" / "addons.md").read_text()
    section = text.split("## Choosing the mesh", 1)[1].split("\n## Known gaps", 1)[0]
    return re.findall(rf"^```{lang}\n(.*?)^```\n", section, re.S | re.M)


def test_the_docs_mesh_examples_are_the_stack_files_settings() -> None:
    blocks = [yaml.safe_load(b) for b in _doc_blocks("yaml")]
    stacks = [b for b in blocks if "config" in b and "slipway:targets" not in b["config"]]
    assert len(stacks) == 2
    for block, stack in zip(stacks, ("prod", "dev"), strict=True):
        real = yaml.safe_load((REPO / f"Pulumi.{stack}.yaml").read_text())["config"]
        assert block["config"]["slipway:traffic"] == real["slipway:traffic"], stack


def test_the_docs_peer_authentication_is_the_rendered_one(prod) -> None:
    (shown,) = [b for b in map(yaml.safe_load, _doc_blocks("yaml")) if "kind" in b]
    rendered = prod["manifests/aws-us-east-1/web/PeerAuthentication-frontend.yaml"]
    assert shown["spec"] == rendered["spec"]
    assert shown["metadata"]["namespace"] == rendered["metadata"]["namespace"]


def test_the_docs_flagd_example_renders_pods_that_reach_the_api(tmp_path) -> None:
    (example,) = [
        b
        for b in map(yaml.safe_load, _doc_blocks("yaml"))
        if "slipway:targets" in b.get("config", {})
    ]
    project = copy_project(tmp_path / "flagd", stacks=("dev",))
    stack_file = project / "Pulumi.dev.yaml"
    doc = yaml.safe_load(stack_file.read_text())
    doc["config"].update(example["config"])
    doc["config"]["slipway:addons"] = {"acmeEmail": "dev@example.com"}
    stack_file.write_text(yaml.safe_dump(doc))
    records = _render(project, "dev")
    (pod,) = [
        r.inputs["spec"]["template"]["spec"]
        for r in records
        if r.type == "kubernetes:apps/v1:Deployment" and r.inputs["metadata"]["name"] == "frontend"
    ]
    assert pod["automountServiceAccountToken"] is True  # frontend has flags
    cidrs = example["config"]["slipway:targets"][0]["kubernetesApiCidrs"]
    egress = _netpol(records, "frontend")["egress"]
    assert {"to": [{"ipBlock": {"cidr": c}} for c in cidrs]} == {"to": egress[-1]["to"]}

    # The pack's mandatory token rule flags exactly the flagd pods; the docs' exception, one per
    # such workload, clears them.
    rule = "pod-no-service-account-token"
    resources = [r.to_json() for r in records]
    diags = run_pack(resources, "dev")
    flagged = sorted(d.urn.rsplit("::", 1)[1] for d in diags if d.policy == rule)
    assert flagged == ["local-frontend-deployment", "local-inventory-deployment"]
    (exception,) = [json.loads(b) for b in _doc_blocks("json")]
    (entry,) = exception[rule]["exceptions"]
    assert entry["resource"] == "Deployment web/frontend"
    config = json.loads((REPO / "policies" / "config" / "dev.json").read_text())
    config[rule] = {
        **config.get(rule, {}),
        "exceptions": [entry, {**entry, "resource": "Deployment commerce/inventory"}],
    }
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(config))
    left = [d for d in run_pack(resources, "dev", config_path=path) if d.policy == rule]
    assert left == []
