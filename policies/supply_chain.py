"""Supply chain: what a cluster may pull and run.

Image references are parsed the way the container runtime reads them
(``[registry/]repository[:tag][@digest]``, Docker Hub when no registry is named).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pulumi_policy import ResourceValidationArgs

from ._base import (
    HIGH,
    MEDIUM,
    as_list,
    containers,
    get,
    may_carry_pods,
    nearest,
    policies_in,
    resource_rule,
)

FAMILY = "supply-chain"

Args = ResourceValidationArgs
Report = Callable[..., None]
"""``report(message, urn=None, *, at=path)``: see ``_base.locating``."""

_DIGEST = re.compile(r"^sha(256|384|512):[0-9a-fA-F]+$")


@dataclass(frozen=True)
class ImageRef:
    """A parsed image reference."""

    registry: str
    repository: str
    tag: str | None
    digest: str | None


def parse_image(image: str) -> ImageRef:
    """Split an image reference; the registry defaults to docker.io like the runtime's."""
    rest, _, digest = image.partition("@")
    first, sep, remainder = rest.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, remainder
    else:
        registry, path = "docker.io", rest
    last = path.rsplit("/", 1)[-1]
    tag = None
    if ":" in last:
        path, _, tag = path.rpartition(":")
    return ImageRef(registry.lower(), path, tag or None, digest or None)


BUILD_REFERENCE = "://"
"""``ko://github.com/org/app/cmd/server``: a reference a build tool (ko) replaces with the
built image, pinned by digest, before anything is applied. No runtime accepts it as an
image (a scheme is not valid in an image reference), so a pod carrying one cannot start;
the image rules judge the built manifest instead, not the source."""


def _images(args: Args):
    for c in containers(args):
        image = get(c.spec, "image")
        if image is not None and BUILD_REFERENCE in str(image):
            continue
        yield c, (None if image is None else str(image))


@resource_rule(
    id="image-no-latest-tag",
    applies_to=may_carry_pods,
    family=FAMILY,
    security=True,
    description="Images must name a version: no `latest` tag, no missing tag without a digest.",
    severity=HIGH,
    remediation="Reference the image by a release tag (and, in prod, its digest).",
    standards=["CIS-K8S:5.5.1", "SLSA:build-provenance"],
)
def no_latest_tag(args: Args, report: Report) -> None:
    """A missing tag means `latest`; a digest alone pins the image, so it is accepted. A
    partial pod spec (an operator's) may leave the image to the operator."""
    for c, image in _images(args):
        if image is None:
            if not c.partial:
                report(f"{c.where} has no image", at=c.path)
            continue
        ref = parse_image(image)
        if ref.tag == "latest":
            report(f"{c.where} uses the latest tag: {image}", at=c.at("image"))
        elif ref.tag is None and ref.digest is None:
            report(f"{c.where} has no tag (means latest): {image}", at=c.at("image"))


@resource_rule(
    id="image-digest-pinned",
    applies_to=may_carry_pods,
    family=FAMILY,
    security=False,
    description="Images must be pinned by a content digest (repo:tag@sha256:...).",
    severity=MEDIUM,
    remediation="Append the digest the registry reports for the tag: image@sha256:<64 hex>.",
    standards=["SLSA:build-provenance", "NSA-K8S:supply-chain"],
)
def digest_pinned(args: Args, report: Report) -> None:
    """A tag can be moved to other content; a digest cannot."""
    for c, image in _images(args):
        if image is None:
            continue
        ref = parse_image(image)
        if ref.digest is None or not _DIGEST.match(ref.digest):
            report(f"{c.where} is not pinned by a content digest: {image}", at=c.at("image"))


DEFAULT_REGISTRIES = ["*.dkr.ecr.*.amazonaws.com", "*-docker.pkg.dev"]


def registry_allowed(ref: ImageRef, patterns: list[str]) -> bool:
    """A pattern without "/" matches the registry host; with "/" it matches a path prefix."""
    full = f"{ref.registry}/{ref.repository}"
    for p in patterns:
        p = str(p).lower().rstrip("/")
        if "/" in p:
            if fnmatch.fnmatchcase(full, p + "/*") or fnmatch.fnmatchcase(full, p):
                return True
        elif fnmatch.fnmatchcase(ref.registry, p):
            return True
    return False


@resource_rule(
    id="image-allowed-registries",
    applies_to=may_carry_pods,
    family=FAMILY,
    security=True,
    description="Images must come from the stack's allowed registries.",
    severity=HIGH,
    remediation="Mirror the image into an allowed registry (see allowedRegistries in the "
    "stack's policy config).",
    standards=["NSA-K8S:supply-chain", "SLSA:source"],
    config={
        "allowedRegistries": {
            "type": "array",
            "items": {"type": "string"},
            "default": DEFAULT_REGISTRIES,
        }
    },
)
def allowed_registries(args: Args, report: Report) -> None:
    """Patterns are shell globs: `*.dkr.ecr.*.amazonaws.com`, `ghcr.io/acme`."""
    patterns = [str(p) for p in as_list(args.get_config().get("allowedRegistries"))]
    if not patterns:
        patterns = DEFAULT_REGISTRIES
    for c, image in _images(args):
        if image is None:
            continue
        ref = parse_image(image)
        if not registry_allowed(ref, patterns):
            report(
                f"{c.where} pulls from {ref.registry}, not an allowed registry: {image}",
                at=c.at("image"),
            )


@resource_rule(
    id="image-pull-policy-always",
    applies_to=may_carry_pods,
    family=FAMILY,
    security=False,
    description="Images pinned only by tag must be pulled with imagePullPolicy: Always.",
    severity=MEDIUM,
    remediation="Set imagePullPolicy: Always, or pin the image by digest.",
    standards=["CIS-K8S:5.5.1"],
)
def pull_policy_always(args: Args, report: Report) -> None:
    """A node's cached copy of a moved tag would otherwise run; a digest needs no pull.

    The policy judged is the one the API server ends up with: Kubernetes defaults an unset
    imagePullPolicy from the image's tag (``SetDefaults_Container`` in
    kubernetes/kubernetes ``pkg/apis/core/v1/defaults.go``: ``Always`` when the tag is
    ``latest``, which ``ParseImageName`` also assumes for an image with neither tag nor
    digest; ``IfNotPresent`` otherwise). So an unset policy is reported only on an image
    with another tag and no digest; an explicit policy other than Always is reported on any
    tag-only image. Pods whose controller resolves tags to digests (Knative) are not
    judged; a partial pod spec (an operator's) only on a policy it sets.
    """
    for c, image in _images(args):
        if image is None or c.resolves_tags:
            continue
        ref = parse_image(image)
        if ref.digest is not None:
            continue
        policy: Any = get(c.spec, "imagePullPolicy")
        if policy is None:
            if c.partial or ref.tag in (None, "latest"):
                continue  # defaulted to Always
            report(
                f"{c.where}: imagePullPolicy is unset, which defaults to IfNotPresent for "
                f"the tag {ref.tag}: {image}",
                at=nearest(args.props, c.at("imagePullPolicy")),
            )
        elif policy != "Always":
            report(
                f"{c.where}: imagePullPolicy is {policy} on a tag-only image: {image}",
                at=c.at("imagePullPolicy"),
            )


POLICIES = policies_in(globals())
