"""The images a services stack pulls, and where they must be copied first.

A services stack pulls every image by digest from its targets' own registries (the platform's
ECR repositories or Artifact Registry), which start empty. Before `pulumi up` each released
image is copied there from the repository the catalog names: `crane copy SRC DST` keeps the
digest, so the pod pulls exactly the bytes that were released. This module lists the copies;
the workflow (docs/ci.md) or a person runs them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from slipway.errors import BadInput

if TYPE_CHECKING:
    from stacks.catalog import Service, Version


@dataclass(frozen=True, order=True)
class Copy:
    """One image to copy into one target's registry."""

    service: str
    target: str
    source: str
    destination: str


def versions_of(service: Service) -> list[tuple[str | None, Version]]:
    """Every version the stack deploys of a service, with the slot or canary it is declared
    for (None: the service's own), each build once."""
    st = service.strategy
    found: list[tuple[str | None, Version]] = [(None, service.version)]
    tracks = [*st.slots.items(), ("canary", st.canary)]
    for name, track in tracks:
        if track is not None and track.version is not None:
            found.append((name, track.version))
    unique: list[tuple[str | None, Version]] = []
    for name, v in found:
        if all(v != seen for _, seen in unique):
            unique.append((name, v))
    return unique


MAX_OUTPUTS_BYTES = 64 << 20
"""A stack's outputs are kilobytes; anything near this is not a `pulumi stack output` file."""


def read_platform_outputs(path: Path) -> dict[str, Any]:
    """`pulumi stack output --json -s <platform>` saved to a file; BadInput when it is not
    one. Read through the project's bounded reader: a device, a FIFO, a folder or an
    oversized file is refused instead of read for ever."""
    from slipway.yamlfile import read_text

    text = read_text(path, max_bytes=MAX_OUTPUTS_BYTES)
    try:
        doc = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        why = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise BadInput(
            f"not JSON ({why}); save `pulumi stack output --json -s <platform stack>`",
            file=str(path),
        ) from None
    if not isinstance(doc, dict):
        raise BadInput(
            "expected the JSON object `pulumi stack output --json` prints", file=str(path)
        )
    return doc


def plan(
    services: list[Service],
    targets: list[tuple[str, str]],
    outputs: dict[str, Any],
    source: str,
    environment: str,
) -> list[Copy]:
    """The copies for `targets` ((name, cloud)) from the platform's `outputs`; `source` names
    where the outputs came from in errors, `environment` the catalog overrides applied."""
    exported = outputs.get("targets")
    if not isinstance(exported, dict):
        raise BadInput(
            "the platform stack's outputs have no `targets` map (is it a platform stack, "
            "and has it been deployed?)",
            file=source,
            field="targets",
        )
    copies: set[Copy] = set()
    for name, cloud in targets:
        if cloud == "existing":
            continue
        entry = exported.get(name)
        images = entry.get("images") if isinstance(entry, dict) else None
        if not isinstance(images, dict):
            raise BadInput(
                f"target {name!r} has no image repositories in the platform's outputs "
                f"(targets: {', '.join(sorted(exported)) or 'none'})",
                file=source,
                field=f"targets.{name}.images",
            )
        for service in services:
            repo = images.get(service.name)
            if not isinstance(repo, str) or not repo or repo.startswith("["):
                raise BadInput(
                    f"no repository for {service.name!r} in target {name!r}: the platform "
                    "creates one per catalog service, so `pulumi up` the platform stack after "
                    "adding a service",
                    file=source,
                    field=f"targets.{name}.images.{service.name}",
                )
            for track, version in versions_of(service):
                if not version.digest:
                    from stacks.catalog import version_field

                    file = service.source or f"{service.name}.yaml"
                    field = version_field(service, track, environment) + ".digest"
                    raise BadInput(
                        f"{service.name} {version.tag}: a cloud target pulls by digest; give "
                        f"{field}",
                        file=file,
                        field=field,
                    )
                src = service.image
                if version.tag:
                    src += f":{version.tag}"
                src += f"@{version.digest}"
                dst = f"{repo}:{version.tag}" if version.tag else f"{repo}@{version.digest}"
                copies.add(Copy(service.name, name, src, dst))
    return sorted(copies)
