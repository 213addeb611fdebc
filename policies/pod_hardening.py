"""Pod hardening beyond the Pod Security Standards: the defaults slipway's pod template
applies that the restricted profile does not require, judged in third-party manifests too
(tests/test_secure_defaults.py maps every default to its rule).

Kept apart from `pod_security` (the restricted profile, field by field) so that each module
stays one standard; the family is the same.
"""

from __future__ import annotations

from pulumi_policy import ReportViolation, ResourceValidationArgs

from ._base import (
    MEDIUM,
    WORKLOAD_KINDS,
    as_list,
    containers,
    get,
    number,
    policies_in,
    resource_rule,
    workload,
)

FAMILY = "pod-security"

Args = ResourceValidationArgs
Report = ReportViolation


@resource_rule(
    id="pod-run-as-high-gid",
    applies_to=WORKLOAD_KINDS,
    family=FAMILY,
    security=True,
    description="Pods must not run as, or give volumes to, a low GID (root's group "
    "included): runAsGroup, fsGroup and supplementalGroups at least minGid (10000).",
    severity=MEDIUM,
    remediation="Set runAsGroup and fsGroup to a GID >= 10000 (pod securityContext), and "
    "keep supplementalGroups above it too.",
    standards=["NSA-K8S:non-root-containers", "CIS-K8S:5.2.7"],
    config={"minGid": {"type": "number", "default": 10000}},
)
def run_as_high_gid(args: Args, report: Report) -> None:
    """GID 0 is root's group: files the image leaves group-writable for it (a common
    pattern for arbitrary-UID images) become writable by the process, and a low GID can
    match a group of the node on a shared volume. Security rule, beside pod-run-as-high-uid.

    Only a GID that is set is judged: unset leaves the image's group, which the platform
    cannot see, and the restricted profile does not ask for one (slipway sets 10001)."""
    w = workload(args.resource_type, args.props)
    if w is None or w.pod is None:
        return
    minimum = number(args.get_config().get("minGid")) or 10000
    sc = (*w.pod_path, "securityContext")
    for field in ("runAsGroup", "fsGroup"):
        gid = number(get(w.pod, "securityContext", field))
        if gid is not None and gid < minimum:
            report(f"pod {field} {gid:g} is below {minimum:g}", at=(*sc, field))
    for i, g in enumerate(as_list(get(w.pod, "securityContext", "supplementalGroups"))):
        gid = number(g)
        if gid is not None and gid < minimum:
            report(
                f"pod supplementalGroups has {gid:g}, below {minimum:g}",
                at=(*sc, "supplementalGroups", i),
            )
    for c in containers(args):
        gid = number(c.sc("runAsGroup"))
        if gid is not None and gid < minimum:
            report(
                f"{c.where}: runAsGroup {gid:g} is below {minimum:g}",
                at=c.at("securityContext", "runAsGroup"),
            )


POLICIES = policies_in(globals())
