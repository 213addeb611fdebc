"""Layers: what the platform stack builds and exports, and how a services stack reads it.

Per environment the platform layer (`slipway:layer: platform`) holds what changes rarely and
must never be replaced by a services change: network, clusters, registries and the cluster
add-ons. The services layer (`slipway:layer: services`) holds namespaces, workloads, traffic
and DNS, and reads the platform through a `pulumi.StackReference`, so a pull request's
services preview runs against known cluster outputs. `all` keeps both in one stack (an
existing cluster, dev).

The platform exports two outputs, both keyed by target name:
- `targets`: what the services layer needs of each cluster and registry (`platform_facts`),
  plain values, readable with `pulumi stack output --json` (the image copy reads it);
- `kubeconfigs`: each cluster's kubeconfig, a secret.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from slipway.errors import BadInput
from slipway_components.addons import ClusterAddons, ClusterAddonsArgs, crds_for
from stacks.catalog import Service
from stacks.config import StackConfig, TargetConfig

FACT_KEYS = {
    "aws": (
        "clusterName",
        "clusterIdentifier",
        "oidcProviderArn",
        "oidcIssuer",
        "ingressAllocationIds",
        "publicSubnetIds",
        "ingressAddresses",
        "images",
    ),
    "gcp": (
        "clusterName",
        "clusterIdentifier",
        "ingressAddress",
        "ingressAddressName",
        "images",
    ),
    "existing": (),
}
"""The facts a services stack reads of each target, per cloud (besides cloud and region)."""


def addon_choice(stack: StackConfig, target: TargetConfig, services: list[Service]) -> dict:
    """Which add-ons a target's cluster needs, as `ClusterAddonsArgs` fields: the stack's
    traffic layer and observability, the catalog's strategies and secrets, public services."""
    cloud_target = target.cloud != "existing"
    public = cloud_target and bool(stack.dns.domain) and any(s.public for s in services)
    flagd = stack.traffic.flags == "flagd"
    return {
        "cloud": target.cloud,
        "traffic_layer": stack.traffic.layer,
        "mesh": stack.traffic.mesh_mode,
        "prometheus": stack.observability.enabled,
        "prometheus_namespace": stack.observability.prometheus_namespace,
        "rollouts": any(s.strategy.engine == "argo-rollouts" for s in services),
        "external_secrets": cloud_target
        and any(
            ref.source not in ("pulumi-config", "generated") for s in services for ref in s.secrets
        ),
        "cert_manager": public or flagd,
        "openfeature": flagd,
        "acme_email": stack.addons.acme_email,
        "rollouts_webhook_url": stack.addons.rollouts_webhook_url,
    }


def selected_addons(stack: StackConfig, target: TargetConfig, services: list[Service]) -> list[str]:
    """The add-on names `ClusterAddons` installs for this target (no cloud facts needed)."""
    return ClusterAddonsArgs.model_construct(**addon_choice(stack, target, services)).addons()


def needed_crds(stack: StackConfig, target: TargetConfig, services: list[Service]) -> list[str]:
    """The CRDs the services of this target create resources of."""
    return crds_for(selected_addons(stack, target, services), target.cloud)


def install_addons(
    stack: StackConfig,
    target: TargetConfig,
    services: list[Service],
    provider: k8s.Provider,
    parent: pulumi.Resource,
    aws_facts: dict[str, Any] | None = None,
) -> ClusterAddons:
    """The target's `ClusterAddons` (pinned Helm releases) through `provider`."""
    from stacks.cloud import platform_tags

    choice = addon_choice(stack, target, services)
    if choice["cert_manager"] and not choice["acme_email"]:
        raise BadInput(
            f"target {target.name!r} serves public services (or flagd), whose certificates "
            "cert-manager gets from Let's Encrypt; give the account's contact address",
            file=f"Pulumi.{pulumi.get_stack()}.yaml",
            field="slipway:addons.acmeEmail",
        )
    try:
        args = ClusterAddonsArgs(**choice, tags=platform_tags(stack, target), **(aws_facts or {}))
    except ValueError as exc:
        raise BadInput(
            str(exc), file=f"Pulumi.{pulumi.get_stack()}.yaml", field="slipway:addons"
        ) from exc
    return ClusterAddons(
        f"{target.name}-addons",
        args,
        opts=pulumi.ResourceOptions(parent=parent, providers=[provider]),
    )


class PlatformReference:
    """The platform stack as a services stack sees it: one `StackReference`, read per target.

    A target the platform does not export (or exports for another cloud, region, project or
    account), or without an add-on the services need, fails the preview as bad input naming
    both stack files: the services layer must not guess where a cluster is."""

    def __init__(self, stack: StackConfig, services: list[Service] | None = None) -> None:
        self.stack = stack
        self.services = services or []
        self.name = stack.platform_reference(pulumi.get_organization(), pulumi.get_project())
        self.ref = pulumi.StackReference(self.name)
        self._targets = self.ref.require_output("targets")
        self._kubeconfigs = self.ref.require_output("kubeconfigs")

    def _entry(self, target: TargetConfig) -> pulumi.Output[dict[str, Any]]:
        needed = selected_addons(self.stack, target, self.services)
        stack_name, here = self.name, f"Pulumi.{pulumi.get_stack()}.yaml"
        there = f"Pulumi.{stack_name.rsplit('/', 1)[-1]}.yaml"

        def pick(targets: Any) -> dict[str, Any]:
            check_platform_entry(target, targets, needed, stack_name, here, there)
            return targets[target.name]

        return self._targets.apply(pick)

    def facts(self, target: TargetConfig) -> dict[str, Any]:
        """The target's exported facts, one Output each."""
        entry = self._entry(target)
        facts: dict[str, Any] = {"cloud": target.cloud, "region": target.region}
        for key in FACT_KEYS[target.cloud]:
            facts[key] = entry.apply(lambda e, key=key: e.get(key))
        if target.cloud == "gcp":
            facts["project"] = target.project
        return facts

    def kubeconfig(self, target: TargetConfig) -> pulumi.Output[str]:
        """The target's kubeconfig, kept secret (offline, a recorded secret output is one
        "[secret]", as `pulumi stack output --json` shows it)."""
        name = target.name
        return pulumi.Output.secret(
            self._kubeconfigs.apply(lambda k: k[name] if isinstance(k, dict) else str(k))
        )


def check_platform_entry(
    target: TargetConfig,
    targets: Any,
    needed_addons: list[str],
    platform: str,
    here: str,
    there: str,
) -> None:
    """What the services layer needs of the platform's export for one target; BadInput
    naming both stack files when it is not there."""
    entry = targets.get(target.name) if isinstance(targets, dict) else None
    if not isinstance(entry, dict):
        known = ", ".join(sorted(targets)) if isinstance(targets, dict) else ""
        raise BadInput(
            f"target {target.name!r} is not in the outputs of platform stack {platform!r} "
            f"(it has: {known or 'none'}): add it to {there} and `pulumi up` that stack "
            "first, or remove it here",
            file=here,
            field=f"slipway:targets[{target.name}]",
        )
    wanted = {"cloud": target.cloud, "region": target.region}
    if target.cloud == "gcp":
        wanted["project"] = target.project
    if target.cloud == "aws" and target.aws_account:
        wanted["accountId"] = target.aws_account
    for key, want in wanted.items():
        # project and account are compared when the platform exports them
        if entry.get(key) != want and (key in ("cloud", "region") or key in entry):
            raise BadInput(
                f"target {target.name!r}: {key} is {want!r} here but {entry.get(key)!r} in "
                f"platform stack {platform!r} ({there}); the two files must agree",
                file=here,
                field=f"slipway:targets[{target.name}].{key}",
            )
    installed = entry.get("addons")
    missing = [a for a in needed_addons if isinstance(installed, list) and a not in installed]
    if missing:
        raise BadInput(
            f"target {target.name!r} needs the add-ons {', '.join(missing)}, which platform "
            f"stack {platform!r} has not installed there: give {there} the same traffic layer, "
            "observability and dns as this stack, then `pulumi up` it",
            file=here,
            field=f"slipway:targets[{target.name}]",
        )


def platform_export(
    target: TargetConfig, facts: dict[str, Any], addons: ClusterAddons | None
) -> dict[str, Any]:
    """One target's entry of the platform's `targets` output."""
    out: dict[str, Any] = {"cloud": target.cloud, "region": target.region}
    if target.cloud == "gcp":
        out["project"] = target.project
    if target.cloud == "aws" and target.aws_account:
        out["accountId"] = target.aws_account
    out.update({k: facts[k] for k in FACT_KEYS[target.cloud] if k in facts})
    installed = addons.addon_names if addons is not None else []
    out["addons"] = installed
    out["crds"] = crds_for(installed, target.cloud)
    return out


def crd_gate(
    target: TargetConfig,
    crds: list[str],
    provider: k8s.Provider,
    parent: pulumi.Resource,
) -> list[pulumi.Resource]:
    """Read each CRD the target's services need (the engine reads them in every preview): a
    cluster without one fails here, naming it, before any workload is planned. The services'
    provider depends on these reads."""
    return [
        k8s.apiextensions.v1.CustomResourceDefinition.get(
            f"{target.name}-crd-{crd}",
            crd,
            opts=pulumi.ResourceOptions(parent=parent, provider=provider),
        )
        for crd in crds
    ]
