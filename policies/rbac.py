"""RBAC: Roles, ClusterRoles and their bindings, after section 5.1 of the CIS Kubernetes
Benchmark.

Only objects of the `rbac.authorization.k8s.io` group are judged (a `Role` of another group
is something else). Every rule here is a security rule and ships mandatory: each grant it
finds is a path to more privilege than the object's name suggests (reading every token,
rewriting admission, running commands in other pods); a controller that truly needs one
records it with an exemption (`slipway.dev/exempt` on the object, or the stack config's
`exceptions`), which a reviewer then reads.

What is not judged, on purpose:

- the built-in bootstrap policy (label `kubernetes.io/bootstrapping: rbac-defaults` on
  cluster-admin, admin, edit, view or a `system:*` name): the API server owns and
  reconciles it;
- the `rules` of an aggregated ClusterRole (`aggregationRule`): the controller replaces
  them with the union of the ClusterRoles it selects, which are judged themselves;
- grants limited by `resourceNames` for the rules about secrets: access to named secrets is
  what CIS 5.1.2 recommends instead of access to all of them.

Wildcards are `rbac-no-wildcards`' finding: the rules about one resource (secrets, webhooks,
nodes/proxy...) match the resource and verb by name, so that a `*` on everything is one
finding, not ten. A `*` in `apiGroups` does count as the resource's group.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs

from ._base import (
    CRITICAL,
    HIGH,
    LOW,
    MEDIUM,
    as_list,
    get,
    is_false,
    labels_of,
    policies_in,
    resource_rule,
)
from ._kinds import CORE, group_kind, rbac_kind

FAMILY = "rbac"

Args = ResourceValidationArgs
Report = ReportViolation

ROLE_KINDS = ("Role", "ClusterRole")
BINDING_KINDS = ("RoleBinding", "ClusterRoleBinding")
BOOTSTRAP_LABEL = ("kubernetes.io/bootstrapping", "rbac-defaults")
"""What the API server's built-in roles and bindings carry."""

READ = frozenset({"get", "list", "watch"})
WRITE = frozenset({"create", "update", "patch", "delete", "deletecollection"})


def _rule(**kw: Any):
    return resource_rule(family=FAMILY, security=True, **kw)


BOOTSTRAP_NAMES = frozenset({"cluster-admin", "admin", "edit", "view"})
"""The bootstrap roles (and bindings) not named `system:*`."""


def _builtin(props: Any) -> bool:
    """The API server's bootstrap policy: its label AND one of its names, so that a
    third-party role cannot pass for one by copying the label."""
    key, value = BOOTSTRAP_LABEL
    if str(labels_of(props).get(key, "")) != value:
        return False
    name = str(get(props, "metadata", "name", default=""))
    return name in BOOTSTRAP_NAMES or name.startswith("system:")


@dataclass(frozen=True)
class Grant:
    """One entry of a role's `rules`, with its index (for messages and locations)."""

    index: int
    api_groups: frozenset[str]
    resources: frozenset[str]
    verbs: frozenset[str]
    resource_names: tuple[str, ...]
    entry: Any

    def at(self, field: str) -> tuple[str | int, ...]:
        """Path of one of the entry's fields (the entry itself when the field is unset)."""
        if get(self.entry, field) is None:
            return ("rules", self.index)
        return ("rules", self.index, field)

    def group(self, group: str) -> bool:
        return group in self.api_groups or "*" in self.api_groups

    def on(self, group: str, resources: Sequence[str], verbs: frozenset[str]) -> list[str]:
        """The verbs among ``verbs`` this entry grants by name on one of ``resources`` of
        ``group`` (empty when none); wildcard verbs and resources are not names."""
        if not self.group(group) or not self.resources & set(resources):
            return []
        return sorted(self.verbs & verbs)


def _strings(v: Any) -> frozenset[str]:
    return frozenset(str(x) for x in as_list(v))


def grants(args: Args) -> Iterator[tuple[str, Grant]]:
    """(kind, grant) for every rules entry of a Role or ClusterRole that is judged. Verbs,
    resources and groups compare exactly, as the authorizer does (`Get` grants nothing)."""
    kind = rbac_kind(args.resource_type)
    if kind not in ROLE_KINDS or _builtin(args.props):
        return
    if kind == "ClusterRole" and get(args.props, "aggregationRule") is not None:
        return
    for i, entry in enumerate(as_list(get(args.props, "rules"))):
        yield (
            kind,
            Grant(
                index=i,
                api_groups=_strings(get(entry, "apiGroups")),
                resources=_strings(get(entry, "resources")),
                verbs=_strings(get(entry, "verbs")),
                resource_names=tuple(str(n) for n in as_list(get(entry, "resourceNames"))),
                entry=entry,
            ),
        )


def _scope(kind: str, namespace: Any) -> str:
    """Where a role's grant applies, for messages."""
    if kind == "ClusterRole":
        return "cluster-wide (or in every namespace it is bound in)"
    return f"in namespace {namespace}" if namespace else "in its namespace"


def _names(items: Sequence[str] | frozenset[str]) -> str:
    return ", ".join(sorted(items))


ROLE_REMEDIATION = (
    "Grant only the verbs and resources the workload uses, by name; if a controller truly "
    "needs this, record why on the object (annotation slipway.dev/exempt: "
    '"<rule>: <reason>").'
)


@_rule(
    id="rbac-no-wildcards",
    applies_to=ROLE_KINDS,
    description="Roles and ClusterRoles must not grant `*` verbs, resources or API groups.",
    severity=HIGH,
    remediation="Replace `*` with the API groups, resources and verbs used. " + ROLE_REMEDIATION,
    standards=["CIS-K8S:5.1.3", "NSA-K8S:rbac"],
)
def no_wildcards(args: Args, report: Report) -> None:
    """A wildcard grants today's resources and verbs and every one added later (new CRDs,
    `escalate`, `impersonate`); it is how a narrow role silently becomes cluster-admin.
    One finding per entry, pointing at its widest wildcard (verbs, then resources, then
    API groups); a `*` in nonResourceURLs with named verbs is a path pattern, not judged."""
    for _, g in grants(args):
        fields = [
            f
            for f, values in (
                ("verbs", g.verbs),
                ("resources", g.resources),
                ("apiGroups", g.api_groups),
            )
            if "*" in values
        ]
        if fields:
            report(
                f"rules[{g.index}] grants {_grant(g)} (`*` in {', '.join(fields)})",
                at=g.at(fields[0]),
            )


def _grant(g: Grant) -> str:
    """What an entry grants, in words: "every verb on secrets in the core API group"."""
    verbs = "every verb" if "*" in g.verbs else (_names(g.verbs) or "no verb")
    urls = _strings(get(g.entry, "nonResourceURLs"))
    if not g.resources and urls:
        return f"{verbs} on the URLs {_names(urls)}"
    what = "every resource" if "*" in g.resources else (_names(g.resources) or "no resource")
    if "*" in g.api_groups:
        groups = "every API group"
    elif g.api_groups == {CORE}:
        groups = "the core API group"
    else:
        groups = "API group " + ", ".join(sorted(x or '""' for x in g.api_groups))
    return f"{verbs} on {what} in {groups}"


ESCALATION = {
    "bind": "bind any Role or ClusterRole it may reference (grant what it does not hold)",
    "escalate": "edit Roles to grant more than it holds",
    "impersonate": "act as another user, group or ServiceAccount",
}


@_rule(
    id="rbac-no-escalation-verbs",
    applies_to=ROLE_KINDS,
    description="Roles and ClusterRoles must not grant the bind, escalate or impersonate verbs.",
    severity=CRITICAL,
    remediation="Remove bind, escalate and impersonate from verbs. " + ROLE_REMEDIATION,
    standards=["CIS-K8S:5.1.8", "NSA-K8S:rbac"],
)
def no_escalation_verbs(args: Args, report: Report) -> None:
    """These three verbs exist to step around RBAC's own escalation check: whoever holds
    them can reach cluster-admin. On any resource: `impersonate` applies to users, groups,
    serviceaccounts and userextras, `bind`/`escalate` to roles."""
    for _, g in grants(args):
        for verb in sorted(g.verbs & ESCALATION.keys()):
            on = _names(g.resources) or "nothing"
            report(
                f"rules[{g.index}] grants {verb} on {on}: it may {ESCALATION[verb]}",
                at=g.at("verbs"),
            )


@_rule(
    id="rbac-no-secret-read",
    applies_to=ROLE_KINDS,
    description="Roles and ClusterRoles must not read every secret (get/list/watch on "
    "secrets without resourceNames).",
    severity=HIGH,
    remediation="Name the secrets in resourceNames, or mount them into the pod instead of "
    "reading them through the API. " + ROLE_REMEDIATION,
    standards=["CIS-K8S:5.1.2", "NSA-K8S:rbac"],
)
def no_secret_read(args: Args, report: Report) -> None:
    """Reading all secrets yields every credential and every legacy ServiceAccount token in
    reach, hence the privileges of every ServiceAccount there. One rule for both kinds: a
    ClusterRole reaches every namespace (a ClusterRoleBinding), a Role every secret of its
    namespace, which is the same escalation inside that namespace (the message says which)."""
    for kind, g in grants(args):
        if g.resource_names:
            continue
        verbs = g.on(CORE, ["secrets"], READ)
        if verbs:
            where = _scope(kind, get(args.props, "metadata", "namespace"))
            report(
                f"rules[{g.index}] grants {_names(verbs)} on all secrets {where}",
                at=g.at("verbs"),
            )


WEBHOOK_RESOURCES = (
    "mutatingwebhookconfigurations",
    "validatingwebhookconfigurations",
    "mutatingadmissionpolicies",
    "mutatingadmissionpolicybindings",
    "validatingadmissionpolicies",
    "validatingadmissionpolicybindings",
)


@_rule(
    id="rbac-no-admission-control",
    applies_to=ROLE_KINDS,
    description="Roles and ClusterRoles must not create, change or delete admission webhook "
    "configurations or admission policies.",
    severity=HIGH,
    remediation="Let the installer (not a running controller) own the webhook "
    "configurations; a controller that injects its CA bundle gets update/patch on its own "
    "configuration by resourceNames and an exemption. " + ROLE_REMEDIATION,
    standards=["CIS-K8S:5.1.12"],
)
def no_admission_control(args: Args, report: Report) -> None:
    """A mutating webhook sees and rewrites every object sent to the API (secrets included);
    deleting a validating one switches a guard off. Reads are fine."""
    for _, g in grants(args):
        verbs = g.on("admissionregistration.k8s.io", WEBHOOK_RESOURCES, WRITE)
        if verbs:
            on = _names(g.resources & set(WEBHOOK_RESOURCES))
            named = " (those in resourceNames)" if g.resource_names else ""
            report(f"rules[{g.index}] grants {_names(verbs)} on {on}{named}", at=g.at("verbs"))


@_rule(
    id="rbac-no-nodes-proxy",
    applies_to=ROLE_KINDS,
    description="Roles and ClusterRoles must not grant access to nodes/proxy.",
    severity=HIGH,
    remediation="Scrape nodes/metrics (or the kubelet's /metrics/resource) instead. "
    + ROLE_REMEDIATION,
    standards=["CIS-K8S:5.1.10"],
)
def no_nodes_proxy(args: Args, report: Report) -> None:
    """nodes/proxy reaches the kubelet API directly, past admission and audit: with it a
    caller can run commands in any pod on the node (even with `get` alone, through a
    websocket upgrade)."""
    for _, g in grants(args):
        verbs = g.on(CORE, ["nodes/proxy"], g.verbs - {"*"})
        if verbs:
            report(f"rules[{g.index}] grants {_names(verbs)} on nodes/proxy", at=g.at("resources"))


@_rule(
    id="rbac-no-pod-exec",
    applies_to=ROLE_KINDS,
    description="Roles and ClusterRoles must not grant exec or attach into pods.",
    severity=HIGH,
    remediation="Remove pods/exec and pods/attach; debug with ephemeral containers under a "
    "break-glass role. " + ROLE_REMEDIATION,
    standards=["CIS-K8S:5.1.4"],
)
def no_pod_exec(args: Args, report: Report) -> None:
    """Exec runs commands in another workload's container, with its mounted secrets and
    identity. `get` counts: the websocket upgrade kubectl uses is a GET."""
    for _, g in grants(args):
        verbs = g.on(CORE, ["pods/exec", "pods/attach"], {"create", "get"})
        if verbs:
            on = _names(g.resources & {"pods/exec", "pods/attach"})
            report(f"rules[{g.index}] grants {_names(verbs)} on {on}", at=g.at("resources"))


@_rule(
    id="rbac-no-pod-create",
    applies_to=ROLE_KINDS,
    description="Roles and ClusterRoles must not grant creating pods.",
    severity=MEDIUM,
    remediation="Create Deployments or Jobs (reviewed templates) instead of pods. "
    + ROLE_REMEDIATION,
    standards=["CIS-K8S:5.1.4"],
)
def no_pod_create(args: Args, report: Report) -> None:
    """Who creates pods picks their ServiceAccount, volumes and image: every secret and
    identity of the namespace is one pod away (and the node, without Pod Security
    admission). Controllers that run pods (CI runners, workflow engines) need an exemption."""
    for kind, g in grants(args):
        if g.on(CORE, ["pods"], {"create"}):
            where = _scope(kind, get(args.props, "metadata", "namespace"))
            report(f"rules[{g.index}] grants create on pods {where}", at=g.at("verbs"))


@_rule(
    id="rbac-no-persistent-volume-create",
    applies_to=ROLE_KINDS,
    description="Roles and ClusterRoles must not grant creating PersistentVolumes.",
    severity=MEDIUM,
    remediation="Provision storage through PersistentVolumeClaims and a StorageClass. "
    + ROLE_REMEDIATION,
    standards=["CIS-K8S:5.1.9"],
)
def no_persistent_volume_create(args: Args, report: Report) -> None:
    """A PersistentVolume may be a hostPath: creating one mounts the node's filesystem past
    Pod Security admission. Volume provisioners need an exemption."""
    for _, g in grants(args):
        if g.on(CORE, ["persistentvolumes"], {"create"}):
            report(f"rules[{g.index}] grants create on persistentvolumes", at=g.at("verbs"))


@_rule(
    id="rbac-no-token-create",
    applies_to=ROLE_KINDS,
    description="Roles and ClusterRoles must not grant creating ServiceAccount tokens.",
    severity=HIGH,
    remediation="Use projected ServiceAccount token volumes in the pod that needs the "
    "token. " + ROLE_REMEDIATION,
    standards=["CIS-K8S:5.1.13"],
)
def no_token_create(args: Args, report: Report) -> None:
    """Creating a token for a ServiceAccount is acting as it, with whatever it is bound to."""
    for kind, g in grants(args):
        if g.on(CORE, ["serviceaccounts/token"], {"create"}):
            where = _scope(kind, get(args.props, "metadata", "namespace"))
            named = " (named ServiceAccounts)" if g.resource_names else ""
            report(
                f"rules[{g.index}] grants create on serviceaccounts/token{named} {where}",
                at=g.at("verbs"),
            )


@_rule(
    id="rbac-no-service-status-write",
    applies_to=ROLE_KINDS,
    description="Roles and ClusterRoles must not update or patch services/status.",
    severity=MEDIUM,
    remediation="Leave Service status to the cloud's load-balancer controller. " + ROLE_REMEDIATION,
    standards=["NSA-K8S:rbac"],
)
def no_service_status_write(args: Args, report: Report) -> None:
    """Whoever writes services/status can set status.loadBalancer.ingress[].ip to any
    address, and kube-proxy then routes the cluster's traffic for that address to the
    Service (CVE-2020-8554, unfixed by design: a man in the middle). Load-balancer
    controllers need it and an exemption; Checkov's CKV2_K8S_4 judges the same."""
    for _, g in grants(args):
        verbs = g.on(CORE, ["services/status"], {"update", "patch"})
        if verbs:
            report(f"rules[{g.index}] grants {_names(verbs)} on services/status", at=g.at("verbs"))


@_rule(
    id="rbac-no-csr-approval",
    applies_to=ROLE_KINDS,
    description="Roles and ClusterRoles must not approve CertificateSigningRequests.",
    severity=HIGH,
    remediation="Leave approval to the cluster's own approvers (kubelet serving and client "
    "certificates). " + ROLE_REMEDIATION,
    standards=["CIS-K8S:5.1.11"],
)
def no_csr_approval(args: Args, report: Report) -> None:
    """An approved CSR is a client certificate for any user or group the signer allows
    (system:masters with some signers): update on certificatesigningrequests/approval and
    approve on signers together approve one; either half is reported."""
    for _, g in grants(args):
        verbs = g.on("certificates.k8s.io", ["certificatesigningrequests/approval"], WRITE)
        if verbs:
            report(
                f"rules[{g.index}] grants {_names(verbs)} on certificatesigningrequests/approval",
                at=g.at("verbs"),
            )
        if g.on("certificates.k8s.io", ["signers"], {"approve"}):
            signers = ", ".join(g.resource_names) or "every signer"
            report(f"rules[{g.index}] grants approve on signers ({signers})", at=g.at("verbs"))


# --- bindings ------------------------------------------------------------------------------


def _bindings(args: Args) -> str | None:
    kind = rbac_kind(args.resource_type)
    if kind not in BINDING_KINDS or _builtin(args.props):
        return None
    return kind


def _subjects(args: Args) -> Iterator[tuple[int, str, str, Any]]:
    """(index, kind, name, namespace) of every subject of a binding."""
    for i, s in enumerate(as_list(get(args.props, "subjects"))):
        yield (
            i,
            str(get(s, "kind", default="")),
            str(get(s, "name", default="")),
            get(s, "namespace"),
        )


BINDING_REMEDIATION = (
    "Bind a dedicated ServiceAccount to a role with only what it uses; if this binding is "
    'truly needed, record why on the object (annotation slipway.dev/exempt: "<rule>: '
    '<reason>").'
)


@_rule(
    id="rbac-no-cluster-admin-binding",
    applies_to=BINDING_KINDS,
    description="Bindings must not grant the cluster-admin ClusterRole.",
    severity=CRITICAL,
    remediation="Bind a ClusterRole with only the verbs and resources used. " + BINDING_REMEDIATION,
    standards=["CIS-K8S:5.1.1", "NSA-K8S:rbac"],
)
def no_cluster_admin_binding(args: Args, report: Report) -> None:
    """cluster-admin is every verb on everything: a workload bound to it owns the cluster
    (in a RoleBinding, the whole namespace, its secrets and RBAC included)."""
    kind = _bindings(args)
    if kind is None:
        return
    ref = get(args.props, "roleRef")
    if get(ref, "kind") == "ClusterRole" and get(ref, "name") == "cluster-admin":
        who = ", ".join(f"{k} {n}" for _, k, n, _ in _subjects(args)) or "no subject"
        scope = "the cluster" if kind == "ClusterRoleBinding" else "its namespace"
        report(f"roleRef is cluster-admin: {who} own(s) {scope}", at=("roleRef", "name"))


@_rule(
    id="rbac-no-system-masters",
    applies_to=BINDING_KINDS,
    description="Bindings must not name the system:masters group.",
    severity=HIGH,
    remediation="Bind named users or groups to scoped roles; keep system:masters for the "
    "break-glass credentials only. " + BINDING_REMEDIATION,
    standards=["CIS-K8S:5.1.7"],
)
def no_system_masters(args: Args, report: Report) -> None:
    """system:masters bypasses RBAC altogether (no binding can be revoked from it); a binding
    naming it says someone plans to hand out its certificates."""
    if _bindings(args) is None:
        return
    for i, kind, name, _ in _subjects(args):
        if kind == "Group" and name == "system:masters":
            report(f"subjects[{i}] is the group system:masters", at=("subjects", i, "name"))


BROAD_SUBJECTS = {
    ("User", "system:anonymous"): "every unauthenticated request",
    ("Group", "system:unauthenticated"): "every unauthenticated request",
    ("Group", "system:authenticated"): "every authenticated user and ServiceAccount",
    ("Group", "system:serviceaccounts"): "every ServiceAccount of the cluster",
}


@_rule(
    id="rbac-no-default-service-account-binding",
    applies_to=BINDING_KINDS,
    description="Bindings must not grant roles to a `default` ServiceAccount, or to "
    "everyone (anonymous, all authenticated users, all ServiceAccounts).",
    severity=HIGH,
    remediation="Create a ServiceAccount for the workload and bind that. " + BINDING_REMEDIATION,
    standards=["CIS-K8S:5.1.5", "NSA-K8S:rbac"],
)
def no_default_service_account_binding(args: Args, report: Report) -> None:
    """Every pod that names no ServiceAccount runs as `default`: a role bound to it goes to
    all of them. The groups that stand for everyone are the same mistake, larger."""
    if _bindings(args) is None:
        return
    for i, kind, name, ns in _subjects(args):
        if kind == "ServiceAccount" and name == "default":
            where = f" of namespace {ns}" if ns else ""
            report(
                f"subjects[{i}] is the default ServiceAccount{where}: every pod that names no "
                "ServiceAccount gets the role",
                at=("subjects", i, "name"),
            )
        elif (kind, name) in BROAD_SUBJECTS:
            report(
                f"subjects[{i}] is {kind} {name}: {BROAD_SUBJECTS[(kind, name)]} gets the role",
                at=("subjects", i, "name"),
            )
        elif kind == "Group" and name.startswith("system:serviceaccounts:"):
            report(
                f"subjects[{i}] is Group {name}: every ServiceAccount of namespace "
                f"{name.rpartition(':')[2]} gets the role",
                at=("subjects", i, "name"),
            )


# --- service accounts ------------------------------------------------------------------------


@_rule(
    id="serviceaccount-no-token-automount",
    applies_to=["ServiceAccount"],
    description="ServiceAccounts must set automountServiceAccountToken: false.",
    severity=LOW,
    remediation="Set automountServiceAccountToken: false on the ServiceAccount; a pod that "
    "calls the API server sets it to true in its own spec (and records why).",
    standards=["CIS-K8S:5.1.6"],
)
def serviceaccount_no_token_automount(args: Args, report: Report) -> None:
    """Unset means every pod under the account gets a token mounted unless the pod says
    otherwise: the token is then one path traversal away from any process in the pod. The
    pod's own field wins (pod-no-service-account-token judges it); this one closes the
    default, as CIS 5.1.6 asks for both. Security rule, like the pod's."""
    if group_kind(args.resource_type) != (CORE, "ServiceAccount"):
        return
    value = get(args.props, "automountServiceAccountToken")
    if not is_false(value):
        shown = "unset" if value is None else repr(value)
        report(
            f"automountServiceAccountToken is {shown}: every pod under this account mounts "
            "its token unless the pod sets false",
            at=("automountServiceAccountToken",) if value is not None else (),
        )


POLICIES = policies_in(globals())
