"""Network exposure: Services, Ingresses and NetworkPolicies.

Traffic enters through the mesh or the gateway; nothing opens a port on nodes or on the
internet by accident.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs

from ._base import HIGH, MEDIUM, as_list, get, k8s_kind, policies_in, resource_rule
from ._kinds import group_kind, nearest

FAMILY = "network"

Args = ResourceValidationArgs
Report = ReportViolation


def _rule(**kw: Any):
    return resource_rule(family=FAMILY, security=True, **kw)


def _service_spec(args: Args) -> Any:
    return (
        get(args.props, "spec", default={}) if k8s_kind(args.resource_type) == "Service" else None
    )


@_rule(
    id="service-no-node-port",
    applies_to=["Service"],
    description="Services must not be of type NodePort.",
    severity=MEDIUM,
    remediation="Use a ClusterIP Service behind the gateway or mesh ingress.",
    standards=["NSA-K8S:network-separation", "CIS-K8S:5.3"],
)
def no_node_port(args: Args, report: Report) -> None:
    """A NodePort opens the port on every node. Unset type is ClusterIP."""
    spec = _service_spec(args)
    if spec is not None and get(spec, "type") == "NodePort":
        report("type is NodePort", at=("spec", "type"))


_INTERNAL_ANNOTATIONS = {
    "service.beta.kubernetes.io/aws-load-balancer-internal": {"true", "0.0.0.0/0"},
    "service.beta.kubernetes.io/aws-load-balancer-scheme": {"internal"},
    "networking.gke.io/load-balancer-type": {"internal"},
    "cloud.google.com/load-balancer-type": {"internal"},
    "service.beta.kubernetes.io/azure-load-balancer-internal": {"true"},
}


def _internal(annotations: Any) -> bool:
    for key, values in _INTERNAL_ANNOTATIONS.items():
        if str(get(annotations, key, default="")).lower() in values:
            return True
    return False


@_rule(
    id="service-no-public-load-balancer",
    applies_to=["Service"],
    description="LoadBalancer Services must be internal.",
    severity=HIGH,
    remediation="Annotate the Service as internal (aws-load-balancer-scheme: internal, "
    "networking.gke.io/load-balancer-type: Internal) and publish through the gateway.",
    standards=["NSA-K8S:network-separation", "CIS-EKS:5.4.5"],
)
def no_public_load_balancer(args: Args, report: Report) -> None:
    """Without an internal annotation a cloud LoadBalancer gets a public address."""
    spec = _service_spec(args)
    if spec is None or get(spec, "type") != "LoadBalancer":
        return
    if not _internal(get(args.props, "metadata", "annotations")):
        report(
            "type LoadBalancer without an internal-load-balancer annotation is public",
            at=nearest(args.props, "metadata", "annotations"),
        )
    ranges = [str(r) for r in as_list(get(spec, "loadBalancerSourceRanges"))]
    for i, cidr in enumerate(ranges):
        if cidr in ("0.0.0.0/0", "::/0"):
            report(
                f"loadBalancerSourceRanges allows the whole internet ({cidr})",
                at=("spec", "loadBalancerSourceRanges", i),
            )


@_rule(
    id="service-no-external-ips",
    applies_to=["Service"],
    description="Services must not set externalIPs.",
    severity=HIGH,
    remediation="Remove spec.externalIPs (CVE-2020-8554 lets them intercept traffic).",
    standards=["CIS-K8S:5.3", "NSA-K8S:network-separation"],
)
def no_external_ips(args: Args, report: Report) -> None:
    """Unset is none."""
    spec = _service_spec(args)
    ips = as_list(get(spec, "externalIPs")) if spec is not None else []
    if ips:
        report(f"externalIPs set: {', '.join(str(i) for i in ips)}", at=("spec", "externalIPs"))


@_rule(
    id="ingress-tls",
    applies_to=["Ingress"],
    description="Ingresses must serve every host over TLS.",
    severity=HIGH,
    remediation="Add spec.tls entries covering every rule host, with a certificate secret.",
    standards=["NSA-K8S:encryption-in-transit", "CIS-K8S:5.3"],
)
def ingress_tls(args: Args, report: Report) -> None:
    """No tls block means plain HTTP; a host missing from tls is served in clear."""
    if k8s_kind(args.resource_type) != "Ingress":
        return
    spec = get(args.props, "spec", default={})
    tls = as_list(get(spec, "tls"))
    if not tls:
        report(
            "spec.tls is unset: traffic is served over plain HTTP", at=nearest(args.props, "spec")
        )
        return
    covered = {str(h) for t in tls for h in as_list(get(t, "hosts"))}
    for i, rule in enumerate(as_list(get(spec, "rules"))):
        host = get(rule, "host")
        if host is not None and str(host) not in covered:
            report(f"host {host} is not covered by spec.tls", at=("spec", "rules", i, "host"))


@_rule(
    id="networkpolicy-no-allow-all",
    applies_to=["NetworkPolicy"],
    description="NetworkPolicies must not allow ingress from everywhere.",
    severity=MEDIUM,
    remediation="Name the allowed peers (podSelector / namespaceSelector / ipBlock) in "
    "every ingress rule.",
    standards=["CIS-K8S:5.3.2", "NSA-K8S:network-separation"],
)
def no_allow_all(args: Args, report: Report) -> None:
    """An ingress rule with no `from`, or an empty peer, admits every source."""
    if k8s_kind(args.resource_type) != "NetworkPolicy":
        return
    for i, rule in enumerate(as_list(get(args.props, "spec", "ingress"))):
        peers = as_list(get(rule, "from"))
        at = ("spec", "ingress", i)
        if not peers:
            report(f"ingress rule {i} has no `from`: it admits every source", at=at)
        for j, peer in enumerate(peers):
            if not any(
                get(peer, k) is not None for k in ("podSelector", "namespaceSelector", "ipBlock")
            ):
                report(
                    f"ingress rule {i} has an empty peer: it admits every source",
                    at=(*at, "from", j),
                )
            cidr = get(peer, "ipBlock", "cidr")
            if cidr in ("0.0.0.0/0", "::/0"):
                report(f"ingress rule {i} admits {cidr}", at=(*at, "from", j, "ipBlock", "cidr"))


_PLAIN = {"DISABLE": "plain text only", "PERMISSIVE": "plain text accepted"}


@_rule(
    id="mesh-mtls-strict",
    applies_to=["PeerAuthentication", "DestinationRule"],
    description="Istio must not accept or send plain text: PeerAuthentication mode STRICT "
    "(or inherited), DestinationRule TLS never DISABLE.",
    severity=HIGH,
    remediation="Set PeerAuthentication spec.mtls.mode: STRICT (a port that outside-mesh "
    "callers reach may be PERMISSIVE under portLevelMtls); remove tls.mode: DISABLE from "
    "the DestinationRule, or set ISTIO_MUTUAL.",
    standards=["NSA-K8S:encryption-in-transit", "CIS-K8S:5.3"],
)
def mesh_mtls_strict(args: Args, report: Report) -> None:
    """PERMISSIVE lets any pod (or anything that reaches the pod IP) talk to the workload
    without a mesh identity, which is what the mesh's authorization relies on. A port-level
    PERMISSIVE is a declared exception for one port (metrics scraped from outside the mesh:
    slipway renders exactly that) and passes; a port-level DISABLE does not. Unset inherits
    the namespace's or the mesh's policy, judged where it is set."""
    gk = group_kind(args.resource_type)
    if gk == ("security.istio.io", "PeerAuthentication"):
        mode = get(args.props, "spec", "mtls", "mode")
        if mode in _PLAIN:
            report(f"spec.mtls.mode is {mode} ({_PLAIN[mode]})", at=("spec", "mtls", "mode"))
        ports = get(args.props, "spec", "portLevelMtls")
        if isinstance(ports, Mapping):
            for port, cfg in ports.items():
                if get(cfg, "mode") == "DISABLE":
                    report(
                        f"portLevelMtls {port} is DISABLE (plain text only)",
                        at=("spec", "portLevelMtls", str(port), "mode"),
                    )
    elif gk == ("networking.istio.io", "DestinationRule"):
        policy = get(args.props, "spec", "trafficPolicy")
        places: list[tuple[tuple[str | int, ...], Any]] = [(("spec", "trafficPolicy"), policy)]
        for i, p in enumerate(as_list(get(policy, "portLevelSettings"))):
            places.append((("spec", "trafficPolicy", "portLevelSettings", i), p))
        for i, subset in enumerate(as_list(get(args.props, "spec", "subsets"))):
            places.append((("spec", "subsets", i, "trafficPolicy"), get(subset, "trafficPolicy")))
        for at, p in places:
            if get(p, "tls", "mode") == "DISABLE":
                report(f"{'.'.join(map(str, at))}.tls.mode is DISABLE", at=(*at, "tls", "mode"))


POLICIES = policies_in(globals())
