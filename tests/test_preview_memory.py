"""What a fleet's preview holds grows with the fleet, not with its square."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from slipway import preview as pv


def _image_dict_lifts(project: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[int, list[str]]:
    """How often the render lifts a dict of service -> image repository into Outputs
    (`Output.from_input`), and the Deployments' images."""
    services = {p.stem for p in (project / "services").glob("*.yaml")}
    lifted = [0]
    sdk = pulumi.Output.from_input

    def from_input(value: Any) -> Any:
        if isinstance(value, dict) and len(value) > 1 and set(value) <= services:
            lifted[0] += 1
        return sdk(value)

    with monkeypatch.context() as m:
        m.setattr(pulumi.Output, "from_input", staticmethod(from_input))
        rendered = pv.render(project, "prod")
    images = [
        c["image"]
        for r in rendered.records
        if r.type == "kubernetes:apps/v1:Deployment"
        for c in r.inputs["spec"]["template"]["spec"]["containers"]
    ]
    return lifted[0], images


def test_a_services_stack_reads_each_image_without_lifting_every_service(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The platform's images (service -> repository) are one Output; each workload reads its
    own entry. Lifting the whole dict (`Output.from_input`) for each service in each target
    made an Output of every entry every time: quadratic, millions at 1000 services."""
    before, images = _image_dict_lifts(project, monkeypatch)
    assert images and all("@sha256:" in i for i in images), "each image still resolves"
    catalog = project / "services"
    for path in sorted(catalog.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        doc["name"] = f"{doc['name']}-two"
        doc.pop("public", None)
        (catalog / f"{doc['name']}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    after, more = _image_dict_lifts(project, monkeypatch)
    assert len(more) > len(images)
    assert after == before, "twice the services, as many lifts of the images: none per service"
