"""Unit tests of the payments platform with Pulumi's mocks: no cloud, no cluster, no CLI.

Two runs of the same program: one as `pulumi up` sees it, where the repository URL and the
namespace's generated name are known; one as a first `pulumi preview` sees it, before either
exists, where both stay unknown. The services must be the same objects in both.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pytest

import components
import program

REPOSITORY = "aws:ecr/repository:Repository"
NAMESPACE = "kubernetes:core/v1:Namespace"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
SERVICE = "kubernetes:core/v1:Service"
REGISTRY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
NAMESPACE_NAME = "payments-5d2c9a1e"
"""The name the provider generates for the auto-named Namespace."""


@dataclass(frozen=True)
class Registration:
    """One resource as the program registered it."""

    typ: str
    name: str
    inputs: dict[str, Any]


class PlatformMocks(pulumi.runtime.Mocks):
    """Plays AWS and the cluster: every resource's state is its inputs, plus the repository
    URL and the namespace's generated name when `known`. Unknown (a preview of a new
    stack): the mocks return neither, so the engine leaves both unknown."""

    def __init__(self, known: bool) -> None:
        self.known = known
        self.registrations: list[Registration] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        self.registrations.append(Registration(args.typ, args.name, dict(args.inputs)))
        state = dict(args.inputs)
        if args.typ == REPOSITORY and self.known:
            state["repositoryUrl"] = f"{REGISTRY}/{args.inputs['name']}"
            state["arn"] = f"arn:aws:ecr:eu-west-1:123456789012:repository/{args.inputs['name']}"
        if args.typ == NAMESPACE:
            if self.known:
                state["metadata"] = {**args.inputs.get("metadata", {}), "name": NAMESPACE_NAME}
            else:
                state.pop("metadata", None)
        return f"{args.name}-id", state

    def call(
        self, args: pulumi.runtime.MockCallArgs
    ) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, []

    def children(self, component: str) -> list[Registration]:
        """What a component registered: its children are named `<component>-<role>`."""
        return [r for r in self.registrations if r.name.startswith(f"{component}-")]

    def kinds(self, component: str) -> set[tuple[str, str]]:
        return {(r.typ, r.name) for r in self.children(component)}


def use_mocks(known: bool) -> PlatformMocks:
    mocks = PlatformMocks(known)
    pulumi.runtime.set_mocks(mocks, project="payments-platform", stack="dev", preview=not known)
    return mocks


def deploy(known: bool) -> tuple[program.Platform, PlatformMocks]:
    """Run the program to the end (every registration awaited), under fresh mocks."""
    mocks = use_mocks(known)
    built: list[program.Platform] = []

    @pulumi.runtime.test
    def run() -> None:
        built.append(program.main())

    run()
    return built[0], mocks


@pytest.fixture
def cloud() -> PlatformMocks:
    """Mocks of a stack whose repository and namespace exist (`pulumi up`)."""
    return use_mocks(known=True)


def container(registration: Registration) -> dict[str, Any]:
    return registration.inputs["spec"]["template"]["spec"]["containers"][0]


def one(found: list[Registration], what: str) -> Registration:
    assert len(found) == 1, f"expected one {what}, found {[r.name for r in found]}"
    return found[0]


def test_the_teams_components_package_is_its_own() -> None:
    """slipway-components brings no top-level `components` that would shadow the team's."""
    assert Path(components.__file__).parent == Path(__file__).parent / "components"
    import slipway_components

    assert Path(slipway_components.__file__).parent.name == "slipway_components"
    assert Path(components.__file__).parent != Path(slipway_components.__file__).parent


@pulumi.runtime.test
def test_service_outputs_name_the_generated_namespace(cloud: PlatformMocks) -> pulumi.Output:
    platform = program.main()

    def check(args: list[Any]) -> None:
        namespace, url = args
        assert namespace == NAMESPACE_NAME, f"payments-api namespace output: {namespace}"
        assert url == f"http://payments-api.{NAMESPACE_NAME}.svc.cluster.local:8080", url

    return pulumi.Output.all(platform.api.namespace, platform.api.url).apply(check)


def test_deployment_runs_the_repository_image_in_the_namespace() -> None:
    _, mocks = deploy(known=True)
    deployment = one(
        [r for r in mocks.children("payments-api") if r.typ == DEPLOYMENT],
        "payments-api Deployment",
    )
    assert container(deployment)["image"] == f"{REGISTRY}/payments-api:1.4.2"
    assert deployment.inputs["metadata"]["namespace"] == NAMESPACE_NAME
    for child in mocks.children("payments-api"):
        metadata = child.inputs.get("metadata", {})
        assert metadata.get("namespace") == NAMESPACE_NAME, f"{child.typ} {child.name}"


def test_blue_green_slots_run_their_releases_and_blue_is_live() -> None:
    _, mocks = deploy(known=True)
    slots = {
        r.inputs["metadata"]["name"]: container(r)["image"]
        for r in mocks.children("checkout")
        if r.typ == DEPLOYMENT
    }
    assert slots == {
        "checkout-blue": f"{REGISTRY}/checkout:2.0.1",
        "checkout-green": f"{REGISTRY}/checkout:2.1.0",
    }
    services = {
        r.inputs["metadata"]["name"]: r.inputs["spec"]["selector"].get("slot")
        for r in mocks.children("checkout")
        if r.typ == SERVICE
    }
    assert services == {"checkout": "blue", "checkout-preview": "green"}


@pytest.mark.parametrize("service", ["payments-api", "checkout"])
def test_every_child_registers_while_image_and_namespace_are_unknown(service: str) -> None:
    _, up = deploy(known=True)
    _, preview = deploy(known=False)
    assert up.kinds(service), f"{service} registered no children"
    assert {typ for typ, _ in up.kinds(service)} >= {DEPLOYMENT, SERVICE}
    missing = up.kinds(service) - preview.kinds(service)
    extra = preview.kinds(service) - up.kinds(service)
    assert not missing, f"not registered while outputs are unknown: {sorted(missing)}"
    assert not extra, f"registered only while outputs are unknown: {sorted(extra)}"
    for deployment in (r for r in preview.children(service) if r.typ == DEPLOYMENT):
        image = container(deployment).get("image")  # absent or Unknown, by SDK version
        assert not isinstance(image, str), f"{deployment.name} runs {image!r} in a preview"


def test_the_whole_program_registers_the_same_resources_in_preview() -> None:
    _, up = deploy(known=True)
    _, preview = deploy(known=False)

    def resources(mocks: PlatformMocks) -> list[tuple[str, str]]:
        return sorted((r.typ, r.name) for r in mocks.registrations)

    assert resources(preview) == resources(up)
