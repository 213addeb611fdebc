"""Judge that every Kubernetes custom resource has its CustomResourceDefinition installed.

The mock engine registers a Rollout or a ServiceMonitor like any other resource; a real
cluster refuses it with "no matches for kind" until the CRD that defines the kind exists.
So each custom resource of the given stacks must have its (group, Kind) installed by some
record of those stacks:

- an explicit `apiextensions.k8s.io` CustomResourceDefinition (its `spec.group` and
  `spec.names.kind`), directly or inline in a `yaml/v2:ConfigGroup` (`objs`, `yaml`);
- a Helm install (`helm.sh/v3:Release`, `helm.sh/v4:Chart`) of an add-on chart listed in
  `INSTALLERS`, with the values under which that chart installs its CRDs (cert-manager's, for
  one, installs none unless asked); each row names the page its facts come from;
- the Gateway API release asset (`standard-install.yaml`, `experimental-install.yaml`) as the
  `file`/`files` of a `yaml/v2:ConfigFile`/`ConfigGroup` or a `yaml:ConfigFile`.

A custom resource is a `kubernetes:<group>/<version>:<Kind>` token that no module of the
Kubernetes SDK registers (the same test `typed_inputs.args_class` uses), so the SDK, not a
list kept here, decides what is built in.

The installed set is the stack's own plus that of the stacks it builds on (a services stack's
platform stack, `builds_on`), or the union over all the stacks given when that is not said.
Limits: whether that add-on is in the same cluster as the custom resource is not judged;
neither is the CRD's served version (a Rollout at a version its CRD does not serve is
`scripts/crd_validate.py`'s concern) nor install order. Only inline `values` are read (not
`valueYamlFiles`), values the preview could not know count as unset, and the Python-side
`helm.sh/v3:Chart` and `yaml:ConfigFile` record no inputs, so they install only through the
CRD records they register.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from slipway import judges
from slipway.judges import typed_inputs

OPAQUE = frozenset({"[unknown]", "[secret]"})
"""How `slipway.engine.clean` writes unknown and secret leaves."""

CRD_TYPE = "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"
HELM_TYPES = frozenset({"kubernetes:helm.sh/v3:Release", "kubernetes:helm.sh/v4:Chart"})
YAML_TYPES = frozenset(
    {
        "kubernetes:yaml/v2:ConfigFile",
        "kubernetes:yaml/v2:ConfigGroup",
        "kubernetes:yaml:ConfigFile",
    }
)

WILDCARD = "*"
"""The Kind of an installed (group, Kind) pair that stands for every kind of the group."""


@dataclass(frozen=True)
class Installer:
    """One upstream add-on chart: how to recognise it and which CRDs it installs.

    `repo_hint` must occur in the repository URL or OCI reference when the chart name alone
    is ambiguous. `values` are the dotted value paths that gate the CRD templates: the CRDs
    are installed when any of them is set truthy (Go template truth, as Helm reads it), not
    installed when those set are all falsy, and per `default` when none is set (unknown
    values count as unset). `crds_dir` marks CRDs shipped in the chart's `crds/` folder, which
    Helm's `skipCrds` leaves out.
    """

    addon: str
    chart: str
    kinds: tuple[str, ...]
    source: str
    repo_hint: str = ""
    values: tuple[str, ...] = ()
    default: bool = True
    crds_dir: bool = False

    def describe(self) -> str:
        """How to install it, as a finding suggests: the chart and any value it needs."""
        if self.default or not self.values:
            return f"{self.addon} (chart {self.chart})"
        return f"{self.addon} (chart {self.chart}, values {self.values[0]}: true)"


_ROLLOUTS = ("Rollout", "AnalysisTemplate", "ClusterAnalysisTemplate", "AnalysisRun", "Experiment")

INSTALLERS: tuple[Installer, ...] = (
    # templates/crds/*.yaml, each gated on `installCRDs` (default true); argoproj.io is shared
    # with Argo CD and Workflows, so only the Rollouts kinds are listed
    Installer(
        "Argo Rollouts",
        "argo-rollouts",
        tuple(f"{kind}.argoproj.io" for kind in _ROLLOUTS),
        "https://github.com/argoproj/argo-helm/tree/main/charts/argo-rollouts",
        values=("installCRDs",),
    ),
    # CRDs in crds/ (older charts) or templated from files/crd-all.gen.yaml (newer, on by
    # default); taken as crds/ so that skipCrds counts as not installed. The chart is named
    # `base`, hence the repository hint (https://istio-release.storage.googleapis.com/charts,
    # oci://gcr.io/istio-release/charts).
    Installer(
        "Istio base",
        "base",
        (
            "*.networking.istio.io",
            "*.security.istio.io",
            "*.telemetry.istio.io",
            "*.extensions.istio.io",
        ),
        "https://istio.io/latest/docs/setup/install/helm/",
        repo_hint="istio-release",
        crds_dir=True,
    ),
    # the `crds` subchart (condition crds.enabled, default true) ships them in its crds/
    Installer(
        "kube-prometheus-stack",
        "kube-prometheus-stack",
        ("*.monitoring.coreos.com",),
        "https://github.com/prometheus-community/helm-charts/tree/main/charts/kube-prometheus-stack",
        values=("crds.enabled",),
        crds_dir=True,
    ),
    Installer(
        "prometheus-operator-crds",
        "prometheus-operator-crds",
        ("*.monitoring.coreos.com",),
        "https://github.com/prometheus-community/helm-charts/tree/main/charts/prometheus-operator-crds",
    ),
    # templates/crds/*.yaml gated on `installCRDs` (default true); the per-kind
    # `crds.create*` switches are not modelled
    Installer(
        "External Secrets Operator",
        "external-secrets",
        ("*.external-secrets.io", "*.generators.external-secrets.io"),
        "https://github.com/external-secrets/external-secrets/tree/main/deploy/charts/external-secrets",
        values=("installCRDs",),
    ),
    # templates/crd-*.yaml: `{{- if or .Values.crds.enabled .Values.installCRDs }}`; both
    # default false, so a plain install of the chart installs no CRD
    Installer(
        "cert-manager",
        "cert-manager",
        ("*.cert-manager.io", "*.acme.cert-manager.io"),
        "https://cert-manager.io/docs/installation/helm/",
        values=("crds.enabled", "installCRDs"),
        default=False,
    ),
    # CRDs are plain templates (no switch) in the chart versions read; the newest chart's
    # templates were not re-read
    Installer(
        "OpenFeature Operator",
        "open-feature-operator",
        ("*.core.openfeature.dev",),
        "https://github.com/open-feature/open-feature-operator/tree/main/chart/open-feature-operator",
    ),
    # crds/gatewayapi-crds.yaml (the Gateway API experimental channel) and crds/generated/
    Installer(
        "Envoy Gateway",
        "gateway-helm",
        ("*.gateway.networking.k8s.io", "*.gateway.envoyproxy.io"),
        "https://gateway.envoyproxy.io/docs/install/install-helm/",
        crds_dir=True,
    ),
    # crds/crds.yaml: TargetGroupBinding and IngressClassParams; groups added by later chart
    # versions are not confirmed here
    Installer(
        "AWS Load Balancer Controller",
        "aws-load-balancer-controller",
        ("*.elbv2.k8s.aws",),
        "https://github.com/aws/eks-charts/tree/master/stable/aws-load-balancer-controller",
        crds_dir=True,
    ),
)

GATEWAY_API = "gateway.networking.k8s.io"
GATEWAY_API_X = "gateway.networking.x-k8s.io"
GATEWAY_API_SOURCE = "https://github.com/kubernetes-sigs/gateway-api/releases"
"""Where the release assets and the channel of each kind (release notes) come from."""
_GATEWAY_ASSET = re.compile(
    r"^https://github\.com/kubernetes-sigs/gateway-api/releases/"
    r"(?:download/v(?P<version>[0-9][^/]*)|latest/download)/"
    r"(?P<channel>standard|experimental)-install\.yaml$"
)
# The kinds each release added to the standard channel (release notes: v1.0 GA of Gateway,
# GatewayClass, HTTPRoute with ReferenceGrant already standard; v1.1 GRPCRoute; v1.4
# BackendTLSPolicy; v1.5 TLSRoute and ListenerSet). Releases before v1.0 are read as v1.0.
_STANDARD_SINCE: tuple[tuple[tuple[int, int], tuple[str, ...]], ...] = (
    ((0, 0), ("Gateway", "GatewayClass", "HTTPRoute", "ReferenceGrant")),
    ((1, 1), ("GRPCRoute",)),
    ((1, 4), ("BackendTLSPolicy",)),
    ((1, 5), ("TLSRoute", "ListenerSet")),
)


@dataclass(frozen=True)
class Finding:
    """One custom resource whose CRD no given stack installs, and what would install it."""

    stack: str
    urn: str
    resource: str
    group: str
    version: str
    kind: str
    installers: tuple[str, ...]

    def __str__(self) -> str:
        how = "; ".join(self.installers) if self.installers else "no known add-on"
        return (
            f"{self.stack}: {self.resource} ({self.urn}): missing CRD for "
            f"{self.kind}.{self.group}: no stack installs it (would be installed by: {how})"
        )


def _known(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and value in OPAQUE)


def custom_resource_kind(record: dict[str, Any]) -> tuple[str, str, str] | None:
    """(group, version, Kind) of a Kubernetes custom resource; None for anything else.

    Built-in kinds are those the Kubernetes SDK registers; CRDs themselves, providers and
    components are never custom resources.
    """
    token = str(record.get("type", ""))
    if record.get("custom", True) is False or not token.startswith("kubernetes:"):
        return None
    parts = token.split(":")
    if len(parts) != 3 or "/" not in parts[1] or token == CRD_TYPE:
        return None
    if typed_inputs.args_class(token) is not None:
        return None
    group, _, version = parts[1].rpartition("/")
    return group, version, parts[2]


def _get(values: Any, path: str) -> Any:
    for key in path.split("."):
        if not isinstance(values, dict):
            return None
        values = values.get(key)
    return values


def _split_kind(entry: str) -> tuple[str, str]:
    kind, _, group = entry.partition(".")
    return group, kind


def _chart_name(chart: str) -> str:
    """`cert-manager` from `cert-manager`, `jetstack/cert-manager` or an OCI reference."""
    name = chart.rstrip("/").rsplit("/", 1)[-1]
    return name.split(":", 1)[0].split("@", 1)[0]


def matches(installer: Installer, inputs: dict[str, Any]) -> bool:
    """Whether a Helm install's inputs are this add-on's chart (name and repository hint)."""
    chart = inputs.get("chart")
    if not isinstance(chart, str) or not _known(chart) or _chart_name(chart) != installer.chart:
        return False
    repo = (inputs.get("repositoryOpts") or {}).get("repo")
    where = f"{repo if isinstance(repo, str) else ''} {chart}".lower()
    return installer.repo_hint.lower() in where


def installs_crds(installer: Installer, inputs: dict[str, Any]) -> bool:
    """Whether this install of the chart installs its CRDs, given its values and skipCrds."""
    if installer.crds_dir and inputs.get("skipCrds") is True:
        return False
    values = inputs.get("values")
    settings = [_get(values, path) for path in installer.values]
    settings = [s for s in settings if _known(s)]
    if any(bool(s) for s in settings):
        return True
    return installer.default and not settings


def _standard_kinds(release: tuple[int, int] | None) -> set[tuple[str, str]]:
    """The standard channel's kinds at `release` (None: the newest release known here)."""
    return {
        (GATEWAY_API, kind)
        for since, kinds in _STANDARD_SINCE
        if release is None or release >= since
        for kind in kinds
    }


def gateway_api_kinds(url: str) -> set[tuple[str, str]]:
    """(group, Kind) the Gateway API release asset at `url` installs; empty for other URLs."""
    found = _GATEWAY_ASSET.match(url.strip())
    if found is None:
        return set()
    if found["channel"] == "experimental":
        # every kind of the group, and the X-prefixed kinds of its x-k8s.io twin
        return {(GATEWAY_API, WILDCARD), (GATEWAY_API_X, WILDCARD)}
    if not found["version"]:
        return _standard_kinds(None)
    numbers = [int(n) for n in re.findall(r"\d+", found["version"])[:2]]
    return _standard_kinds((numbers[0], numbers[1] if len(numbers) > 1 else 0))


def _crd_kind(doc: Any) -> tuple[str, str] | None:
    """(group, Kind) of a CustomResourceDefinition object, or None."""
    if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
        return None
    spec = doc.get("spec") or {}
    group, kind = spec.get("group"), (spec.get("names") or {}).get("kind")
    if isinstance(group, str) and isinstance(kind, str) and _known(group) and _known(kind):
        return group, kind
    return None


def _inline_crds(inputs: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """CRDs written inline in a ConfigGroup: `objs` objects and `yaml` documents."""
    objs = inputs.get("objs")
    docs: list[Any] = list(objs) if isinstance(objs, list) else []
    texts = inputs.get("yaml")
    for text in texts if isinstance(texts, list) else [texts]:
        if isinstance(text, str) and _known(text):
            try:
                docs.extend(yaml.safe_load_all(text))
            except yaml.YAMLError:
                continue
    for doc in docs:
        pair = _crd_kind(doc)
        if pair is not None:
            yield pair


def installed(records: Iterable[dict[str, Any]]) -> set[tuple[str, str]]:
    """(group, Kind) pairs the records install; Kind `*` stands for a whole group."""
    out: set[tuple[str, str]] = set()
    for record in records:
        token = str(record.get("type", ""))
        inputs = record.get("inputs") or {}
        if token.startswith("kubernetes:apiextensions.k8s.io/") and token.endswith(
            ":CustomResourceDefinition"
        ):
            pair = _crd_kind({**inputs, "kind": "CustomResourceDefinition"})
            if pair is not None:
                out.add(pair)
        elif token in HELM_TYPES:
            for installer in INSTALLERS:
                if matches(installer, inputs) and installs_crds(installer, inputs):
                    out.update(_split_kind(entry) for entry in installer.kinds)
        elif token in YAML_TYPES:
            files = inputs.get("files")
            urls = [inputs.get("file"), *(files if isinstance(files, list) else [files])]
            for url in urls:
                if isinstance(url, str) and _known(url):
                    out.update(gateway_api_kinds(url))
            out.update(_inline_crds(inputs))
    return out


def covered(pairs: set[tuple[str, str]], group: str, kind: str) -> bool:
    """Whether `kind` of `group` is among `pairs`, by name or by its group's wildcard."""
    return (group, kind) in pairs or (group, WILDCARD) in pairs


def suggestions(group: str, kind: str) -> tuple[str, ...]:
    """The add-ons (and release assets) that would install the CRD for `kind` of `group`."""
    out = [
        installer.describe()
        for installer in INSTALLERS
        if covered({_split_kind(entry) for entry in installer.kinds}, group, kind)
    ]
    if covered(_standard_kinds(None), group, kind):
        out.append("the Gateway API release asset standard-install.yaml")
    elif group in (GATEWAY_API, GATEWAY_API_X):
        out.append("the Gateway API release asset experimental-install.yaml")
    return tuple(out)


def resource_name(record: dict[str, Any], kind: str) -> str:
    """`Kind namespace/name` from the manifest's metadata (the Pulumi name when it has none)."""
    meta = (record.get("inputs") or {}).get("metadata") or {}
    name = meta.get("name") if _known(meta.get("name")) else record.get("name", "?")
    namespace = meta.get("namespace")
    return f"{kind} {namespace}/{name}" if _known(namespace) else f"{kind} {name}"


def judge(
    stacks: dict[str, list[dict[str, Any]]],
    builds_on: dict[str, list[str]] | None = None,
) -> list[Finding]:
    """One finding per custom resource of a stack whose CRD is not installed by that stack or
    the stacks it builds on (`builds_on`: a services stack's platform stack); without
    `builds_on`, by any of the stacks given."""
    everything = installed(record for records in stacks.values() for record in records)
    findings = []
    for stack, records in stacks.items():
        if builds_on is None:
            have = everything
        else:
            names = [stack, *builds_on.get(stack, [])]
            have = installed(r for name in names for r in stacks.get(name, []))
        for record in records:
            found = custom_resource_kind(record)
            if found is None or covered(have, found[0], found[2]):
                continue
            group, version, kind = found
            findings.append(
                Finding(
                    stack,
                    str(record.get("urn", "")),
                    resource_name(record, kind),
                    group,
                    version,
                    kind,
                    suggestions(group, kind),
                )
            )
    return sorted(findings, key=lambda f: (f.stack, f.urn))


def main(argv: list[str] | None = None) -> int:
    """`python -m slipway.judges.crds_installed DIR/resources.json...`: 0 clean, 1 findings,
    2 bad input. Each file's folder names its stack."""
    args = sys.argv[1:] if argv is None else argv
    if not args:
        print(
            "usage: python -m slipway.judges.crds_installed STACK/resources.json...",
            file=sys.stderr,
        )
        return 2
    stacks: dict[str, list[dict[str, Any]]] = {}
    for arg in args:
        path = Path(arg)
        try:
            records = judges.load(path)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        name = path.resolve().parent.name
        stacks[str(path.parent) if name in stacks else name] = records
    findings = judge(stacks)
    for finding in findings:
        print(finding)
    total = sum(1 for rs in stacks.values() for r in rs if custom_resource_kind(r) is not None)
    print(
        f"crds_installed: {total} custom resources, {len(findings)} without an installed CRD",
        file=sys.stderr,
    )
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
