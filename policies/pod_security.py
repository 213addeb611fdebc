"""Pod security: the Pod Security Standards' restricted profile, for every pod spec.

Each rule checks every container, init container and ephemeral container of every pod spec
an object carries: Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs, CronJobs, Pods,
Argo Rollouts, AnalysisTemplates and Experiments, Knative Services, Prometheus-operator
resources and custom resources with a pod template (the walking is in ``_base``, kinds
matched by API group and kind). Unset fields mean the Kubernetes default, which is the
permissive one, unless the rule says otherwise; in a partial pod spec (an operator's, see
``_base.PodKind``) only what is set is judged.

Each finding points at the offending field (``report(..., at=path)``), or at its nearest
existing parent when the field is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pulumi_policy import ResourceValidationArgs

from ._base import (
    CRITICAL,
    HIGH,
    MEDIUM,
    Container,
    FieldPath,
    as_list,
    containers,
    get,
    is_false,
    is_true,
    may_carry_pods,
    nearest,
    number,
    pods,
    policies_in,
    resource_rule,
    workload,
    workloads,
)

FAMILY = "pod-security"

Args = ResourceValidationArgs
Report = Callable[..., None]
"""``report(message, urn=None, *, at=path)``: see ``_base.locating``."""


def _rule(**kw: Any):
    return resource_rule(family=FAMILY, security=True, applies_to=may_carry_pods, **kw)


def _partial_pods(args: Args) -> list[Any]:
    """The partial pod specs of a resource (an operator's, see ``_base.PodKind``): their pod
    securityContext is judged on its own, since their containers are mostly the operator's."""
    return [w for w in pods(args) if w.partial]


def _sc_at(args: Args, c: Container, *field: str) -> FieldPath:
    """A container securityContext field, or its nearest existing parent."""
    return nearest(args.props, c.at("securityContext", *field))


@_rule(
    id="pod-no-privileged",
    description="Containers must not run privileged.",
    severity=CRITICAL,
    remediation="Remove securityContext.privileged or set it to false.",
    standards=["PSS:baseline/privileged-containers", "CIS-K8S:5.2.2"],
)
def no_privileged(args: Args, report: Report) -> None:
    """A privileged container is root on the node."""
    for c in containers(args):
        if is_true(c.sc("privileged")):
            report(
                f"{c.where} sets securityContext.privileged: true",
                at=c.at("securityContext", "privileged"),
            )


@_rule(
    id="pod-no-privilege-escalation",
    description="Containers must set allowPrivilegeEscalation: false.",
    severity=HIGH,
    remediation="Set securityContext.allowPrivilegeEscalation: false on every container.",
    standards=["PSS:restricted/privilege-escalation", "CIS-K8S:5.2.6"],
)
def no_privilege_escalation(args: Args, report: Report) -> None:
    """Unset means allowed (setuid binaries can gain privileges), so it must be explicit."""
    for c in containers(args):
        value = c.sc("allowPrivilegeEscalation")
        if is_false(value) or (value is None and c.partial):
            continue
        shown = "unset" if value is None else repr(value)
        report(
            f"{c.where}: securityContext.allowPrivilegeEscalation is {shown}",
            at=_sc_at(args, c, "allowPrivilegeEscalation"),
        )


@_rule(
    id="pod-run-as-non-root",
    description="Containers must run with runAsNonRoot: true and never as UID 0.",
    severity=HIGH,
    remediation="Set securityContext.runAsNonRoot: true on the pod (or every container) and "
    "do not set runAsUser: 0.",
    standards=["PSS:restricted/running-as-non-root", "CIS-K8S:5.2.7"],
)
def run_as_non_root(args: Args, report: Report) -> None:
    """The container value overrides the pod value; unset on both means root is allowed. A
    partial pod spec is judged on what it sets: its pod securityContext, and each container's
    own."""
    for w in _partial_pods(args):
        if is_false(get(w.pod, "securityContext", "runAsNonRoot")):
            report(
                f"{_pod(w)} securityContext sets runAsNonRoot: false",
                at=w.at("securityContext", "runAsNonRoot"),
            )
        if number(get(w.pod, "securityContext", "runAsUser")) == 0:
            report(
                f"{_pod(w)} securityContext sets runAsUser: 0 (root)",
                at=w.at("securityContext", "runAsUser"),
            )
    for c in containers(args):
        if c.partial:
            if is_false(c.sc("runAsNonRoot")):
                report(
                    f"{c.where}: runAsNonRoot is false",
                    at=c.at("securityContext", "runAsNonRoot"),
                )
            if number(c.sc("runAsUser")) == 0:
                report(f"{c.where}: runAsUser is 0 (root)", at=c.at("securityContext", "runAsUser"))
            continue
        if not is_true(c.effective("runAsNonRoot")):
            report(
                f"{c.where}: runAsNonRoot is not true (pod or container securityContext)",
                at=nearest(args.props, c.effective_at("runAsNonRoot")),
            )
        uid = number(c.effective("runAsUser"))
        if uid == 0:
            report(
                f"{c.where}: runAsUser is 0 (root)",
                at=nearest(args.props, c.effective_at("runAsUser")),
            )


@_rule(
    id="pod-run-as-high-uid",
    description="Containers must run as a high, explicit UID (default: at least 10000).",
    severity=MEDIUM,
    remediation="Set securityContext.runAsUser to a UID >= 10000 (pod or container), so it "
    "cannot collide with a user of the node.",
    standards=["CIS-K8S:5.2.7", "NSA-K8S:non-root-containers"],
    config={"minUid": {"type": "number", "default": 10000}},
)
def run_as_high_uid(args: Args, report: Report) -> None:
    """Unset means the image's USER decides, which the platform cannot see."""
    minimum = number(args.get_config().get("minUid")) or 10000
    for w in _partial_pods(args):
        uid = number(get(w.pod, "securityContext", "runAsUser"))
        if uid is not None and uid < minimum:
            report(
                f"{_pod(w)} securityContext sets runAsUser {uid:g}, below {minimum:g}",
                at=w.at("securityContext", "runAsUser"),
            )
    for c in containers(args):
        uid = number(c.sc("runAsUser") if c.partial else c.effective("runAsUser"))
        at = nearest(args.props, c.effective_at("runAsUser"))
        if uid is None and not c.partial:
            report(f"{c.where}: runAsUser is unset (the image decides the UID)", at=at)
        elif uid is not None and uid < minimum:
            report(f"{c.where}: runAsUser {uid:g} is below {minimum:g}", at=at)


@_rule(
    id="pod-drop-all-capabilities",
    description="Containers must drop ALL Linux capabilities.",
    severity=HIGH,
    remediation='Set securityContext.capabilities.drop: ["ALL"] on every container, spelt '
    "exactly ALL in capitals.",
    standards=["PSS:restricted/capabilities", "CIS-K8S:5.2.10"],
)
def drop_all_capabilities(args: Args, report: Report) -> None:
    """Unset keeps the runtime's default set (NET_RAW, CHOWN, SETUID, ...). Names are
    case-sensitive: Pod Security admission accepts only ``ALL``, so ``drop: [all]`` does not
    count. A partial pod spec (an operator's) is only judged on a misspelt ALL."""
    for c in containers(args):
        dropped = [str(x) for x in as_list(get(c.spec, "securityContext", "capabilities", "drop"))]
        if "ALL" in dropped:
            continue
        misspelt = [x for x in dropped if x.upper() in ("ALL", "CAP_ALL")]
        at = _sc_at(args, c, "capabilities", "drop")
        if misspelt:
            i = dropped.index(misspelt[0])
            report(
                f'{c.where} drops "{misspelt[0]}": the runtime may drop everything, but Pod '
                "Security admission (restricted) accepts only the exact name ALL and refuses "
                'the pod; write drop: ["ALL"]',
                at=(*at, i) if at == c.at("securityContext", "capabilities", "drop") else at,
            )
        elif not c.partial:
            report(f'{c.where} does not drop ALL capabilities (drop: ["ALL"])', at=at)


_ALLOWED_ADD = "NET_BIND_SERVICE"


@_rule(
    id="pod-no-added-capabilities",
    description="Containers may add no capability other than NET_BIND_SERVICE.",
    severity=HIGH,
    remediation="Remove securityContext.capabilities.add, or keep only NET_BIND_SERVICE, "
    "spelt exactly so.",
    standards=["PSS:restricted/capabilities", "CIS-K8S:5.2.9"],
)
def no_added_capabilities(args: Args, report: Report) -> None:
    """Unset adds nothing. Names are compared exactly, as Pod Security admission does: the
    runtime reads ``net_bind_service`` or ``CAP_NET_BIND_SERVICE`` as the same capability,
    admission refuses them, so they are reported with the spelling it accepts."""
    for c in containers(args):
        added = [str(x) for x in as_list(get(c.spec, "securityContext", "capabilities", "add"))]
        for i, a in enumerate(added):
            if a == _ALLOWED_ADD:
                continue
            at = c.at("securityContext", "capabilities", "add", i)
            if a.upper().removeprefix("CAP_") == _ALLOWED_ADD:
                report(
                    f'{c.where} adds "{a}": Pod Security admission (restricted) compares '
                    f"names exactly and allows only {_ALLOWED_ADD}, spelt so",
                    at=at,
                )
            else:
                report(f"{c.where} adds capability {a}", at=at)


def _host_flag(args: Args, report: Report, field: str) -> None:
    for w in pods(args):
        if is_true(get(w.pod, field)):
            report(f"{_pod(w)} sets {field}: true", at=w.at(field))


@_rule(
    id="pod-no-host-network",
    description="Pods must not use the node's network namespace.",
    severity=HIGH,
    remediation="Remove spec.hostNetwork (default false).",
    standards=["PSS:baseline/host-namespaces", "CIS-K8S:5.2.5"],
)
def no_host_network(args: Args, report: Report) -> None:
    """Unset is false."""
    _host_flag(args, report, "hostNetwork")


@_rule(
    id="pod-no-host-pid",
    description="Pods must not share the node's process namespace.",
    severity=HIGH,
    remediation="Remove spec.hostPID (default false).",
    standards=["PSS:baseline/host-namespaces", "CIS-K8S:5.2.3"],
)
def no_host_pid(args: Args, report: Report) -> None:
    """Unset is false."""
    _host_flag(args, report, "hostPID")


@_rule(
    id="pod-no-host-ipc",
    description="Pods must not share the node's IPC namespace.",
    severity=HIGH,
    remediation="Remove spec.hostIPC (default false).",
    standards=["PSS:baseline/host-namespaces", "CIS-K8S:5.2.4"],
)
def no_host_ipc(args: Args, report: Report) -> None:
    """Unset is false."""
    _host_flag(args, report, "hostIPC")


@_rule(
    id="pod-no-host-path",
    description="Pods must not mount hostPath volumes.",
    severity=HIGH,
    remediation="Use emptyDir, a PersistentVolumeClaim, a ConfigMap or a Secret instead.",
    standards=["PSS:baseline/hostpath-volumes", "CIS-K8S:5.2.12"],
)
def no_host_path(args: Args, report: Report) -> None:
    """Any hostPath volume is a path into the node's filesystem."""
    for w, i, v in _volumes(args):
        if get(v, "hostPath") is not None:
            report(
                f'{_scope(w)}volume "{get(v, "name")}" mounts hostPath '
                f"{get(v, 'hostPath', 'path')}",
                at=w.at("volumes", i, "hostPath"),
            )


def _scope(w: Any) -> str:
    """A message prefix naming the pod when an object has several."""
    return "" if w.where == "pod" else f"{w.where}: "


def _pod(w: Any) -> str:
    """How a message names a pod spec: "pod spec", or "pod at <path>" among several."""
    return "pod spec" if w.where == "pod" else w.where


def _volumes(args: Args):
    """(pod view, index, volume) for every volume of every pod spec."""
    for w in pods(args):
        for i, v in enumerate(as_list(get(w.pod, "volumes"))):
            yield w, i, v


_SOCKETS = (
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/var/run/containerd/containerd.sock",
    "/run/containerd/containerd.sock",
    "/var/run/crio/crio.sock",
    "/run/crio/crio.sock",
    "/var/run/cri-dockerd.sock",
)


def _is_socket_path(path: Any) -> bool:
    """A runtime socket, any *.sock, or a folder that contains a runtime socket (/, /run)."""
    norm = str(path or "").rstrip("/") or "/"
    return (
        norm == "/"
        or norm.endswith(".sock")
        or any(s == norm or s.startswith(norm + "/") for s in _SOCKETS)
    )


@_rule(
    id="pod-no-container-runtime-socket",
    description="Pods must not mount the container runtime socket.",
    severity=CRITICAL,
    remediation="Remove the volume: the runtime socket gives full control of the node.",
    standards=["NSA-K8S:pod-security", "CIS-K8S:5.2.12"],
)
def no_runtime_socket(args: Args, report: Report) -> None:
    """Docker, containerd and CRI-O sockets, or any parent folder of them."""
    for w, i, v in _volumes(args):
        path = get(v, "hostPath", "path")
        if path is not None and _is_socket_path(path):
            report(
                f'{_scope(w)}volume "{get(v, "name")}" mounts the runtime socket {path}',
                at=w.at("volumes", i, "hostPath", "path"),
            )


@_rule(
    id="pod-no-host-ports",
    description="Containers must not bind host ports.",
    severity=MEDIUM,
    remediation="Remove ports[].hostPort; expose the pod through a ClusterIP Service.",
    standards=["PSS:baseline/host-ports", "CIS-K8S:5.2.13"],
)
def no_host_ports(args: Args, report: Report) -> None:
    """hostPort 0 or unset binds nothing."""
    for c in containers(args):
        for i, p in enumerate(as_list(get(c.spec, "ports"))):
            hp = number(get(p, "hostPort"))
            if hp:
                report(f"{c.where} binds hostPort {hp:g}", at=c.at("ports", i, "hostPort"))


_SECCOMP_OK = {"RuntimeDefault", "Localhost"}


@_rule(
    id="pod-seccomp-runtime-default",
    description="Pods must use the RuntimeDefault (or a Localhost) seccomp profile.",
    severity=HIGH,
    remediation="Set spec.securityContext.seccompProfile.type: RuntimeDefault.",
    standards=["PSS:restricted/seccomp", "CIS-K8S:5.7.2"],
)
def seccomp_runtime_default(args: Args, report: Report) -> None:
    """Unset on both pod and container means Unconfined on most runtimes."""
    for w in _partial_pods(args):
        profile = get(w.pod, "securityContext", "seccompProfile", "type")
        if profile is not None and profile not in _SECCOMP_OK:
            report(
                f"{_pod(w)} seccompProfile is {profile}",
                at=w.at("securityContext", "seccompProfile", "type"),
            )
    for c in containers(args):
        at: FieldPath = c.at("securityContext", "seccompProfile", "type")
        profile = get(c.spec, "securityContext", "seccompProfile", "type")
        if profile is None and not c.partial:
            profile = get(c.pod, "securityContext", "seccompProfile", "type")
            if profile is not None:
                at = (*c.pod_path, "securityContext", "seccompProfile", "type")
        if profile in _SECCOMP_OK or (profile is None and c.partial):
            continue
        shown = "unset" if profile is None else profile
        report(f"{c.where}: seccompProfile is {shown}", at=nearest(args.props, at))


@_rule(
    id="pod-read-only-root-filesystem",
    description="Containers must mount their root filesystem read-only.",
    severity=MEDIUM,
    remediation="Set securityContext.readOnlyRootFilesystem: true; mount an emptyDir where "
    "the process must write.",
    standards=["NSA-K8S:immutable-filesystem", "CIS-K8S:5.2"],
)
def read_only_root_filesystem(args: Args, report: Report) -> None:
    """Unset means writable."""
    for c in containers(args):
        value = c.sc("readOnlyRootFilesystem")
        if not is_true(value) and not (value is None and c.partial):
            report(
                f"{c.where}: readOnlyRootFilesystem is not true",
                at=_sc_at(args, c, "readOnlyRootFilesystem"),
            )


@_rule(
    id="pod-no-service-account-token",
    description="Pods must not mount a service-account token unless they call the API.",
    severity=MEDIUM,
    remediation="Set spec.automountServiceAccountToken: false (pods that call the API "
    "server get a dedicated ServiceAccount and a written exception).",
    standards=["CIS-K8S:5.1.6"],
)
def no_service_account_token(args: Args, report: Report) -> None:
    """Unset on the pod means the token is mounted (the ServiceAccount default)."""
    for w in pods(args):
        value = get(w.pod, "automountServiceAccountToken")
        if is_false(value) or (value is None and w.partial):
            continue
        report(
            f"{_pod(w)}: automountServiceAccountToken is not false",
            at=nearest(args.props, w.at("automountServiceAccountToken")),
        )


@_rule(
    id="pod-no-default-service-account",
    description="Pods must run under a dedicated ServiceAccount, not `default`.",
    severity=MEDIUM,
    remediation="Create a ServiceAccount per workload and set spec.serviceAccountName.",
    standards=["CIS-K8S:5.1.5"],
)
def no_default_service_account(args: Args, report: Report) -> None:
    """Unset means `default`."""
    for w in pods(args):
        field = "serviceAccountName" if get(w.pod, "serviceAccountName") else "serviceAccount"
        sa = get(w.pod, field)
        if sa == "default" or (sa in (None, "") and not w.partial):
            report(
                f"the {_pod(w)} runs under the default ServiceAccount",
                at=nearest(args.props, w.at(field)),
            )


@_rule(
    id="workload-no-default-namespace",
    description="Workloads must not run in the `default` namespace.",
    severity=MEDIUM,
    remediation="Set metadata.namespace to the team's namespace.",
    standards=["CIS-K8S:5.7.4"],
)
def no_default_namespace(args: Args, report: Report) -> None:
    """An explicit `default` is always reported. An unset namespace depends on who places
    the object: under the engine, the Kubernetes provider puts it in the provider's own
    `namespace`, else the kubeconfig context's (usually `default`), so it is reported
    unless the provider names another; a raw manifest (`slipway check`: no provider) lands
    wherever it is applied (`kubectl apply -n argocd`), which is the installer's choice."""
    w = workload(args.resource_type, args.props)
    if w is None or not w.pod_kind.namespaced:
        return
    if w.namespace == "default":
        report("metadata.namespace is default", at=("metadata", "namespace"))
    elif not w.namespace and args.provider is not None:
        placed = get(args.provider.props, "namespace")
        if placed in (None, "", "default"):
            report(
                "metadata.namespace is unset and the provider names no namespace "
                "(the kubeconfig context's, usually default)",
                at=nearest(args.props, ("metadata", "namespace")),
            )


@_rule(
    id="pod-no-unmasked-proc-mount",
    description="Containers must keep the default (masked) /proc mount.",
    severity=HIGH,
    remediation="Remove securityContext.procMount or set it to Default.",
    standards=["PSS:baseline/proc-mount-type"],
)
def no_unmasked_proc_mount(args: Args, report: Report) -> None:
    """Unset is Default."""
    for c in containers(args):
        mount = c.sc("procMount")
        if mount not in (None, "Default"):
            report(f"{c.where}: procMount is {mount}", at=c.at("securityContext", "procMount"))


_SAFE_SYSCTLS = {
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
}


@_rule(
    id="pod-no-unsafe-sysctls",
    description="Pods may set only the sysctls the Pod Security Standards call safe.",
    severity=HIGH,
    remediation="Remove the sysctl from spec.securityContext.sysctls.",
    standards=["PSS:baseline/sysctls"],
)
def no_unsafe_sysctls(args: Args, report: Report) -> None:
    """Unset sets none."""
    for w in pods(args):
        for i, s in enumerate(as_list(get(w.pod, "securityContext", "sysctls"))):
            name = get(s, "name")
            if name not in _SAFE_SYSCTLS:
                report(
                    f"{_scope(w)}sysctl {name} is not in the safe set",
                    at=w.at("securityContext", "sysctls", i, "name"),
                )


_SELINUX_TYPES = {
    None,
    "",
    "container_t",
    "container_init_t",
    "container_kvm_t",
    "container_engine_t",
}


@_rule(
    id="pod-selinux-restricted",
    description="SELinux options may only pick a container type, never a user or role.",
    severity=HIGH,
    remediation="Remove seLinuxOptions.user/role and use a container_* type.",
    standards=["PSS:baseline/selinux"],
)
def selinux_restricted(args: Args, report: Report) -> None:
    """Checked on the pod and on every container; unset is fine."""
    scopes: list[tuple[str, Any, FieldPath]] = []
    for w in pods(args):
        at = w.at("securityContext", "seLinuxOptions")
        scopes.append((_pod(w), get(w.pod, "securityContext", "seLinuxOptions"), at))
    scopes += [
        (c.where, c.sc("seLinuxOptions"), c.at("securityContext", "seLinuxOptions"))
        for c in containers(args)
    ]
    for where, opts, at in scopes:
        if opts is None:
            continue
        for field in ("user", "role"):
            if get(opts, field):
                report(f"{where}: seLinuxOptions sets a {field}", at=(*at, field))
        if get(opts, "type") not in _SELINUX_TYPES:
            report(
                f"{where}: seLinuxOptions.type {get(opts, 'type')} is not allowed",
                at=(*at, "type"),
            )


@_rule(
    id="pod-no-unconfined-apparmor",
    description="Containers must not run with the Unconfined AppArmor profile.",
    severity=HIGH,
    remediation="Remove appArmorProfile.type: Unconfined (or the unconfined annotation).",
    standards=["PSS:baseline/apparmor"],
)
def no_unconfined_apparmor(args: Args, report: Report) -> None:
    """Field (1.30+) on pod and containers, and the older per-container annotation."""
    for w in pods(args):
        if get(w.pod, "securityContext", "appArmorProfile", "type") == "Unconfined":
            report(
                f"{_pod(w)} appArmorProfile is Unconfined",
                at=w.at("securityContext", "appArmorProfile", "type"),
            )
        annotations = get(w.pod_metadata, "annotations") or {}
        for key in annotations:
            if key.startswith("container.apparmor.security.beta.kubernetes.io/") and (
                str(annotations[key]) == "unconfined"
            ):
                report(
                    f"{_scope(w)}annotation {key} is unconfined",
                    at=_annotation_at(w, key),
                )
    for c in containers(args):
        if get(c.sc("appArmorProfile"), "type") == "Unconfined":
            report(
                f"{c.where}: appArmorProfile is Unconfined",
                at=c.at("securityContext", "appArmorProfile", "type"),
            )


def _annotation_at(w: Any, key: str) -> FieldPath:
    """Where a pod annotation sits (the pod template's metadata, or the object's own)."""
    return (*w.metadata_path, "annotations", key)


@_rule(
    id="pod-no-windows-host-process",
    description="Windows pods must not run as HostProcess containers.",
    severity=CRITICAL,
    remediation="Remove windowsOptions.hostProcess.",
    standards=["PSS:baseline/hostprocess"],
)
def no_windows_host_process(args: Args, report: Report) -> None:
    """Unset is false."""
    for w in pods(args):
        if is_true(get(w.pod, "securityContext", "windowsOptions", "hostProcess")):
            report(
                f"{_pod(w)} windowsOptions.hostProcess is true",
                at=w.at("securityContext", "windowsOptions", "hostProcess"),
            )
    for c in containers(args):
        if is_true(get(c.spec, "securityContext", "windowsOptions", "hostProcess")):
            report(
                f"{c.where}: windowsOptions.hostProcess is true",
                at=c.at("securityContext", "windowsOptions", "hostProcess"),
            )


_VOLUME_TYPES = {
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
}


@_rule(
    id="pod-restricted-volume-types",
    description="Pods may only use the volume types of the restricted profile.",
    severity=MEDIUM,
    remediation="Use configMap, csi, downwardAPI, emptyDir, ephemeral, persistentVolumeClaim, "
    "projected or secret volumes.",
    standards=["PSS:restricted/volume-types"],
)
def restricted_volume_types(args: Args, report: Report) -> None:
    """A volume is typed by its one key besides `name`."""
    for w, i, v in _volumes(args):
        if not isinstance(v, Mapping):
            continue
        bad = sorted(k for k in v if k != "name" and k not in _VOLUME_TYPES)
        if bad:
            report(
                f'{_scope(w)}volume "{get(v, "name")}" has type {", ".join(bad)}',
                at=w.at("volumes", i, bad[0]),
            )


_CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")


@_rule(
    id="pod-spec-readable",
    description="Pod specs must hold their containers as the Kubernetes API does, so every "
    "rule can judge them.",
    severity=HIGH,
    remediation="Write containers, initContainers and ephemeralContainers as lists of "
    "objects, each with a name and an image (the API server refuses anything else).",
    standards=["SLIPWAY:readable-pod-specs"],
)
def pod_spec_readable(args: Args, report: Report) -> None:
    """A container list that is not a list of objects gives every container rule nothing to
    read, so the object would pass them all (`containers: "nginx"` passed the probe,
    resource, image and securityContext rules); the API server refuses such an object, and
    a scanner must not call it clean. A pod spec without containers is refused likewise
    (a partial pod spec, an operator's patch, may leave them to the operator)."""
    for w in workloads(args.resource_type, args.props):
        if w.pod is None:
            raw = get(w.obj, *w.pod_path)
            if raw is not None:
                report(f"{w.where}: the pod spec is not an object", at=w.pod_path)
            continue
        for key in _CONTAINER_LISTS:
            value = get(w.pod, key)
            at = (*w.pod_path, key)
            if value is None:
                if key == "containers" and not w.pod_kind.partial:
                    report(f"{w.where} has no containers", at=w.pod_path)
            elif not isinstance(value, Sequence) or isinstance(value, str | bytes):
                report(f"{w.where}: {key} is not a list of objects", at=at)
            elif any(not isinstance(c, Mapping) for c in value):
                report(f"{w.where}: {key} holds an entry that is not an object", at=at)


POLICIES = policies_in(globals())
