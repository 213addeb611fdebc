"""Pod security: the Pod Security Standards' restricted profile, for every workload kind.

Each rule checks every container, init container and ephemeral container of Deployments,
StatefulSets, DaemonSets, ReplicaSets, Jobs, CronJobs, Pods and Argo Rollouts (the walking
is in ``_base``). Unset fields mean the Kubernetes default, which is the permissive one,
unless the rule says otherwise.
"""

from __future__ import annotations

from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs

from ._base import (
    CRITICAL,
    HIGH,
    MEDIUM,
    WORKLOAD_KINDS,
    as_list,
    containers,
    get,
    is_false,
    is_true,
    number,
    pod_spec,
    policies_in,
    resource_rule,
    workload,
)

FAMILY = "pod-security"

Args = ResourceValidationArgs
Report = ReportViolation


def _rule(**kw: Any):
    return resource_rule(family=FAMILY, security=True, applies_to=WORKLOAD_KINDS, **kw)


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
            report(f"{c.where} sets securityContext.privileged: true")


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
        if not is_false(value):
            shown = "unset" if value is None else repr(value)
            report(f"{c.where}: securityContext.allowPrivilegeEscalation is {shown}")


@_rule(
    id="pod-run-as-non-root",
    description="Containers must run with runAsNonRoot: true and never as UID 0.",
    severity=HIGH,
    remediation="Set securityContext.runAsNonRoot: true on the pod (or every container) and "
    "do not set runAsUser: 0.",
    standards=["PSS:restricted/running-as-non-root", "CIS-K8S:5.2.7"],
)
def run_as_non_root(args: Args, report: Report) -> None:
    """The container value overrides the pod value; unset on both means root is allowed."""
    for c in containers(args):
        if not is_true(c.effective("runAsNonRoot")):
            report(f"{c.where}: runAsNonRoot is not true (pod or container securityContext)")
        uid = number(c.effective("runAsUser"))
        if uid == 0:
            report(f"{c.where}: runAsUser is 0 (root)")


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
    for c in containers(args):
        uid = number(c.effective("runAsUser"))
        if uid is None:
            report(f"{c.where}: runAsUser is unset (the image decides the UID)")
        elif uid < minimum:
            report(f"{c.where}: runAsUser {uid:g} is below {minimum:g}")


@_rule(
    id="pod-drop-all-capabilities",
    description="Containers must drop ALL Linux capabilities.",
    severity=HIGH,
    remediation='Set securityContext.capabilities.drop: ["ALL"] on every container.',
    standards=["PSS:restricted/capabilities", "CIS-K8S:5.2.10"],
)
def drop_all_capabilities(args: Args, report: Report) -> None:
    """Unset keeps the runtime's default set (NET_RAW, CHOWN, SETUID, ...)."""
    for c in containers(args):
        dropped = {
            str(x).upper() for x in as_list(get(c.spec, "securityContext", "capabilities", "drop"))
        }
        if "ALL" not in dropped:
            report(f"{c.where} does not drop ALL capabilities")


_ALLOWED_ADD = {"NET_BIND_SERVICE"}


@_rule(
    id="pod-no-added-capabilities",
    description="Containers may add no capability other than NET_BIND_SERVICE.",
    severity=HIGH,
    remediation="Remove securityContext.capabilities.add, or keep only NET_BIND_SERVICE.",
    standards=["PSS:restricted/capabilities", "CIS-K8S:5.2.9"],
)
def no_added_capabilities(args: Args, report: Report) -> None:
    """Unset adds nothing."""
    for c in containers(args):
        added = [str(x) for x in as_list(get(c.spec, "securityContext", "capabilities", "add"))]
        extra = sorted({a.upper().removeprefix("CAP_") for a in added} - _ALLOWED_ADD)
        if extra:
            report(f"{c.where} adds capabilities {', '.join(extra)}")


def _host_flag(args: Args, report: Report, field: str) -> None:
    pod = pod_spec(args)
    if pod is not None and is_true(get(pod, field)):
        report(f"pod spec sets {field}: true")


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
    pod = pod_spec(args)
    for v in as_list(get(pod, "volumes")):
        if get(v, "hostPath") is not None:
            report(f'volume "{get(v, "name")}" mounts hostPath {get(v, "hostPath", "path")}')


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
    pod = pod_spec(args)
    for v in as_list(get(pod, "volumes")):
        path = get(v, "hostPath", "path")
        if path is not None and _is_socket_path(path):
            report(f'volume "{get(v, "name")}" mounts the runtime socket {path}')


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
        for p in as_list(get(c.spec, "ports")):
            hp = number(get(p, "hostPort"))
            if hp:
                report(f"{c.where} binds hostPort {hp:g}")


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
    for c in containers(args):
        profile = get(c.spec, "securityContext", "seccompProfile", "type")
        if profile is None:
            profile = get(c.pod, "securityContext", "seccompProfile", "type")
        if profile not in _SECCOMP_OK:
            shown = "unset" if profile is None else profile
            report(f"{c.where}: seccompProfile is {shown}")


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
        if not is_true(c.sc("readOnlyRootFilesystem")):
            report(f"{c.where}: readOnlyRootFilesystem is not true")


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
    w = workload(args.resource_type, args.props)
    if (
        w is not None
        and w.pod is not None
        and not is_false(get(w.pod, "automountServiceAccountToken"))
    ):
        report("spec.automountServiceAccountToken is not false")


@_rule(
    id="pod-no-default-service-account",
    description="Pods must run under a dedicated ServiceAccount, not `default`.",
    severity=MEDIUM,
    remediation="Create a ServiceAccount per workload and set spec.serviceAccountName.",
    standards=["CIS-K8S:5.1.5"],
)
def no_default_service_account(args: Args, report: Report) -> None:
    """Unset means `default`."""
    w = workload(args.resource_type, args.props)
    if w is None or w.pod is None:
        return
    sa = get(w.pod, "serviceAccountName") or get(w.pod, "serviceAccount")
    if sa in (None, "", "default"):
        report("the pod runs under the default ServiceAccount")


@_rule(
    id="workload-no-default-namespace",
    description="Workloads must not run in the `default` namespace.",
    severity=MEDIUM,
    remediation="Set metadata.namespace to the team's namespace.",
    standards=["CIS-K8S:5.7.4"],
)
def no_default_namespace(args: Args, report: Report) -> None:
    """Unset means whatever the kubeconfig context says, usually `default`."""
    w = workload(args.resource_type, args.props)
    if w is not None and w.namespace in (None, "", "default"):
        shown = "unset" if not w.namespace else "default"
        report(f"metadata.namespace is {shown}")


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
            report(f"{c.where}: procMount is {mount}")


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
    pod = pod_spec(args)
    for s in as_list(get(pod, "securityContext", "sysctls")):
        name = get(s, "name")
        if name not in _SAFE_SYSCTLS:
            report(f"sysctl {name} is not in the safe set")


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
    pod = pod_spec(args)
    if pod is None:
        return
    scopes = [("pod", get(pod, "securityContext", "seLinuxOptions"))]
    scopes += [(c.where, c.sc("seLinuxOptions")) for c in containers(args)]
    for where, opts in scopes:
        if opts is None:
            continue
        if get(opts, "user") or get(opts, "role"):
            report(f"{where}: seLinuxOptions sets a user or role")
        if get(opts, "type") not in _SELINUX_TYPES:
            report(f"{where}: seLinuxOptions.type {get(opts, 'type')} is not allowed")


@_rule(
    id="pod-no-unconfined-apparmor",
    description="Containers must not run with the Unconfined AppArmor profile.",
    severity=HIGH,
    remediation="Remove appArmorProfile.type: Unconfined (or the unconfined annotation).",
    standards=["PSS:baseline/apparmor"],
)
def no_unconfined_apparmor(args: Args, report: Report) -> None:
    """Field (1.30+) on pod and containers, and the older per-container annotation."""
    w = workload(args.resource_type, args.props)
    if w is None or w.pod is None:
        return
    if get(w.pod, "securityContext", "appArmorProfile", "type") == "Unconfined":
        report("pod appArmorProfile is Unconfined")
    for c in containers(args):
        if (
            c.sc("appArmorProfile") is not None
            and get(c.sc("appArmorProfile"), "type") == "Unconfined"
        ):
            report(f"{c.where}: appArmorProfile is Unconfined")
    annotations = get(w.pod_metadata, "annotations") or {}
    for key in annotations:
        if key.startswith("container.apparmor.security.beta.kubernetes.io/") and (
            str(annotations[key]) == "unconfined"
        ):
            report(f"annotation {key} is unconfined")


@_rule(
    id="pod-no-windows-host-process",
    description="Windows pods must not run as HostProcess containers.",
    severity=CRITICAL,
    remediation="Remove windowsOptions.hostProcess.",
    standards=["PSS:baseline/hostprocess"],
)
def no_windows_host_process(args: Args, report: Report) -> None:
    """Unset is false."""
    pod = pod_spec(args)
    if pod is None:
        return
    if is_true(get(pod, "securityContext", "windowsOptions", "hostProcess")):
        report("pod windowsOptions.hostProcess is true")
    for c in containers(args):
        if is_true(get(c.spec, "securityContext", "windowsOptions", "hostProcess")):
            report(f"{c.where}: windowsOptions.hostProcess is true")


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
    pod = pod_spec(args)
    for v in as_list(get(pod, "volumes")):
        kinds = [k for k in v if k != "name"]
        bad = [k for k in kinds if k not in _VOLUME_TYPES]
        if bad:
            report(f'volume "{get(v, "name")}" has type {", ".join(sorted(bad))}')


POLICIES = policies_in(globals())
