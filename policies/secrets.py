"""Secrets: never in clear in a pod spec or a ConfigMap, never in environment variables;
encrypted at rest in the cluster.

A value the program marked secret reaches the analyzer as the string "[secret]" (redacted)
or as the value itself; either way a literal in `env` or a ConfigMap ends up readable by
anyone who can read the object, so both are reported. What looks like a credential (names
such as `DB_PASS`, `STRIPE_KEY`, `JWT_SIGNING`, `*_TOKEN`; values such as `AKIA...`,
`ghp_...`, PEM private keys) is the table in `credential_patterns`, with its sources.
"""

from __future__ import annotations

import base64
import binascii
import re
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
    k8s_kind,
    policies_in,
    resource_rule,
)
from ._kinds import nearest
from .credential_patterns import credential_name, credential_value

FAMILY = "secrets"

Args = ResourceValidationArgs
Report = ReportViolation

REDACTED = "[secret]"
"""How a Pulumi secret reaches the analyzer offline: whatever its name, it is a credential."""

SWITCHES = frozenset({"true", "false", "yes", "no", "on", "off"})
"""A switch is not a credential, whatever it is called (`SECRET_ROTATION_ENABLED: "true"`)."""

ENV_REFERENCE = re.compile(r"^\$[({][A-Za-z_][A-Za-z0-9_]*[)}]$")
"""`$(DB_PASSWORD)`: Kubernetes expands another env var (judged where it is set)."""


def credential(name: str, value: Any) -> str | None:
    """Why a literal `value` under `name` is a credential ("a password, by its name", "an
    AWS access key id ..."), or None. The value itself never appears in the answer.

    What counts is the table in `credential_patterns`: a value in a well-known credential
    format whatever its name, else a credential name (by its segments) holding a literal
    that is not a switch, a `$(VAR)` reference, or the path, location or number its name
    promises (`DB_PASSWORD_FILE: /run/secrets/db`).
    """
    if value is None or str(value).strip() == "":
        return None
    text = str(value)
    if text == REDACTED:
        return "a Pulumi secret value"
    shape = credential_value(text)
    if shape is not None:
        return shape.matches
    if text.strip().lower() in SWITCHES or ENV_REFERENCE.match(text.strip()):
        return None
    word = credential_name(name, text)
    return None if word is None else f"{word.matches}, by its name"


def _decoded(value: Any) -> str:
    """A binaryData value as text, so a PEM key in it shows its header (else as given)."""
    try:
        return base64.b64decode(str(value), validate=True).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        return str(value)


REMEDIATION = (
    "Declare it under the service's `secrets:` in the catalog (services/<service>.yaml): "
    "slipway renders a Secret and mounts it as a file named by <NAME>_FILE. Outside the "
    "catalog, put it in a Secret and mount it as a secret volume (not as an environment "
    "variable: see env-no-secret-refs)."
)


@resource_rule(
    id="env-no-literal-secrets",
    applies_to=WORKLOAD_KINDS,
    family=FAMILY,
    security=True,
    description="Containers must not carry credentials as literal environment values "
    "(credential names or well-known token formats).",
    severity=CRITICAL,
    remediation=REMEDIATION,
    standards=["CIS-K8S:5.4.1", "NSA-K8S:secrets"],
)
def env_no_literal_secrets(args: Args, report: Report) -> None:
    """Only `value` literals are judged: valueFrom (secretKeyRef, fieldRef) holds none."""
    for c in containers(args):
        for i, e in enumerate(as_list(get(c.spec, "env"))):
            name = str(get(e, "name", default=""))
            why = credential(name, get(e, "value"))
            if why:
                report(
                    f"{c.where}: env {name} holds a literal credential ({why})",
                    at=c.at("env", i, "value"),
                )


@resource_rule(
    id="env-no-secret-refs",
    applies_to=WORKLOAD_KINDS,
    family=FAMILY,
    security=True,
    description="Containers must not take Secrets as environment variables "
    "(env[].valueFrom.secretKeyRef, envFrom[].secretRef); mount them as files.",
    severity=MEDIUM,
    remediation="Mount the Secret as a volume (secret or projected, readOnly) and have the "
    "program read the file, e.g. from <NAME>_FILE; in the catalog, declare it under the "
    "service's `secrets:`, which does exactly that.",
    standards=["CIS-K8S:5.4.1", "NSA-K8S:secrets"],
)
def env_no_secret_refs(args: Args, report: Report) -> None:
    """Secrets through environment variables leak into logs, crash dumps and child
    processes (and `/proc/<pid>/environ`), and never rotate without a restart; a mounted
    file has none of these problems. Security rule: this is where credentials leak."""
    for c in containers(args):
        for i, e in enumerate(as_list(get(c.spec, "env"))):
            ref = get(e, "valueFrom", "secretKeyRef")
            if ref is not None:
                report(
                    f"{c.where}: env {get(e, 'name', default='?')} reads key "
                    f"{get(ref, 'key', default='?')} of Secret {get(ref, 'name', default='?')}",
                    at=c.at("env", i, "valueFrom", "secretKeyRef"),
                )
        for i, e in enumerate(as_list(get(c.spec, "envFrom"))):
            ref = get(e, "secretRef")
            if ref is not None:
                report(
                    f"{c.where}: envFrom[{i}] turns every key of Secret "
                    f"{get(ref, 'name', default='?')} into environment variables",
                    at=c.at("envFrom", i, "secretRef"),
                )


@resource_rule(
    id="configmap-no-secrets",
    applies_to=["ConfigMap"],
    family=FAMILY,
    security=True,
    description="ConfigMaps must not hold credentials (credential names or well-known "
    "token formats, in data and binaryData).",
    severity=HIGH,
    remediation=REMEDIATION,
    standards=["CIS-K8S:5.4.1", "NSA-K8S:secrets"],
)
def configmap_no_secrets(args: Args, report: Report) -> None:
    """ConfigMaps are neither encrypted at rest nor RBAC-separated from ordinary reads."""
    if k8s_kind(args.resource_type) != "ConfigMap":
        return
    data = get(args.props, "data", default={})
    binary = get(args.props, "binaryData", default={})
    for key in sorted(data):
        why = credential(str(key), data[key])
        if why:
            report(f"data key {key} holds a credential ({why})", at=("data", str(key)))
    for key in sorted(binary):
        why = credential(str(key), _decoded(binary[key]))
        if why:
            report(f"binaryData key {key} holds a credential ({why})", at=("binaryData", str(key)))


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
        report(
            "encryptionConfig does not encrypt secrets with a KMS key",
            at=nearest(args.props, "encryptionConfig"),
        )


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
        report(
            "databaseEncryption is not ENCRYPTED with a Cloud KMS key",
            at=nearest(args.props, "databaseEncryption"),
        )


POLICIES = policies_in(globals())
