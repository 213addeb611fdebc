"""Secrets: never in clear in a pod spec or a ConfigMap; encrypted at rest in the cluster.

A value the program marked secret reaches the analyzer as the string "[secret]" (redacted)
or as the value itself; either way a literal in `env` or a ConfigMap ends up readable by
anyone who can read the object, so both are reported.
"""

from __future__ import annotations

import re
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs

from ._base import (
    CRITICAL,
    HIGH,
    WORKLOAD_KINDS,
    as_list,
    containers,
    get,
    k8s_kind,
    policies_in,
    resource_rule,
)

FAMILY = "secrets"

Args = ResourceValidationArgs
Report = ReportViolation

SENSITIVE_NAME = re.compile(
    r"(PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|"
    r"CREDENTIALS?|CONN(ECTION)?_?STRING|DSN)",
    re.IGNORECASE,
)
"""Names that say "this is a credential" (env var names, ConfigMap keys)."""

REFERENCE_SUFFIX = re.compile(
    r"(_|\.|-)(FILE|PATH|NAME|REF|ARN|ID|DIR|MOUNT|URL|URI|ENDPOINT|HOST|PORT|TTL|TIMEOUT|"
    r"EXPIRY|EXPIRES_IN|LENGTH|SIZE|ENABLED|HEADER|ISSUER|AUDIENCE|TYPE|VERSION|ALGORITHM)$",
    re.IGNORECASE,
)
"""Names that point at a credential or describe it instead of holding it (DB_PASSWORD_FILE,
TOKEN_URL, PASSWORD_MIN_LENGTH); a credential-shaped value is still caught by its shape."""

SENSITIVE_VALUE = re.compile(
    r"(-----BEGIN [A-Z ]*PRIVATE KEY-----|AKIA[0-9A-Z]{16}|ASIA[0-9A-Z]{16}|"
    r"\b[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@|ghp_[A-Za-z0-9]{36}|xox[baprs]-[A-Za-z0-9-]{10,})"
)
"""Values that are credentials whatever their name (keys, tokens, URLs with a password)."""


REDACTED = "[secret]"
"""How a Pulumi secret reaches the analyzer offline: whatever its name, it is a credential."""


def is_sensitive(name: str, value: Any) -> bool:
    """A literal, non-empty value under a credential name, or a value shaped like one."""
    if value is None or str(value).strip() == "":
        return False
    text = str(value)
    if text == REDACTED or SENSITIVE_VALUE.search(text):
        return True
    if text.lower() in ("true", "false"):  # a switch, not a credential
        return False
    return bool(SENSITIVE_NAME.search(name)) and not REFERENCE_SUFFIX.search(name)


@resource_rule(
    id="env-no-literal-secrets",
    applies_to=WORKLOAD_KINDS,
    family=FAMILY,
    security=True,
    description="Containers must not carry credentials as literal environment values.",
    severity=CRITICAL,
    remediation="Store the value in a Secret and use env[].valueFrom.secretKeyRef (or mount "
    "it as a file).",
    standards=["CIS-K8S:5.4.1", "NSA-K8S:secrets"],
)
def env_no_literal_secrets(args: Args, report: Report) -> None:
    """valueFrom entries are fine; only `value` literals are judged."""
    for c in containers(args):
        for e in as_list(get(c.spec, "env")):
            name = str(get(e, "name", default=""))
            if is_sensitive(name, get(e, "value")):
                report(f"{c.where}: env {name} holds a literal credential")


@resource_rule(
    id="configmap-no-secrets",
    applies_to=["ConfigMap"],
    family=FAMILY,
    security=True,
    description="ConfigMaps must not hold credentials.",
    severity=HIGH,
    remediation="Move the value into a Secret (encrypted at rest, RBAC-separated).",
    standards=["CIS-K8S:5.4.1", "NSA-K8S:secrets"],
)
def configmap_no_secrets(args: Args, report: Report) -> None:
    """Keys named like credentials with literal values, or values shaped like credentials."""
    if k8s_kind(args.resource_type) != "ConfigMap":
        return
    data = get(args.props, "data", default={})
    for key in sorted(data):
        if is_sensitive(str(key), data[key]):
            report(f"data key {key} holds a credential")


def _first(v: Any) -> Any:
    """Some provider inputs are a one-element list in older schemas, an object in newer."""
    items = as_list(v)
    return items[0] if items else v


@resource_rule(
    id="eks-secrets-encryption",
    applies_to=["aws:eks/cluster:Cluster"],
    family=FAMILY,
    security=True,
    description="EKS clusters must envelope-encrypt Kubernetes secrets with a KMS key.",
    severity=HIGH,
    remediation='Set encryptionConfig: {resources: ["secrets"], provider: {keyArn: <KMS key>}}.',
    standards=["CIS-EKS:5.3.1"],
)
def eks_secrets_encryption(args: Args, report: Report) -> None:
    """Unset encryptionConfig leaves secrets only base64-encoded in etcd."""
    if args.resource_type != "aws:eks/cluster:Cluster":
        return
    cfg = _first(get(args.props, "encryptionConfig"))
    resources = [str(r) for r in as_list(get(cfg, "resources"))]
    if "secrets" not in resources or not get(cfg, "provider", "keyArn"):
        report("encryptionConfig does not encrypt secrets with a KMS key")


@resource_rule(
    id="gke-secrets-encryption",
    applies_to=["gcp:container/cluster:Cluster"],
    family=FAMILY,
    security=True,
    description="GKE clusters must encrypt Kubernetes secrets at the application layer.",
    severity=HIGH,
    remediation='Set databaseEncryption: {state: "ENCRYPTED", keyName: <Cloud KMS key>}.',
    standards=["CIS-GKE:5.3.1"],
)
def gke_secrets_encryption(args: Args, report: Report) -> None:
    """Unset databaseEncryption means DECRYPTED (Google-managed disk encryption only)."""
    if args.resource_type != "gcp:container/cluster:Cluster":
        return
    cfg = _first(get(args.props, "databaseEncryption"))
    if get(cfg, "state") != "ENCRYPTED" or not get(cfg, "keyName"):
        report("databaseEncryption is not ENCRYPTED with a Cloud KMS key")


POLICIES = policies_in(globals())
