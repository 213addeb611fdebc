"""The components as a package of their own: every public name at the root, and the cloud
SDKs needed only by the components that use them (the `[aws]` and `[gcp]` extras)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest

import slipway_components

COMPONENTS = Path(__file__).resolve().parents[1] / "components"

BLOCK = textwrap.dedent(
    """
    import sys

    class Block:
        '''Stands in for a venv without the blocked SDKs.'''

        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)

    BLOCKED = set(sys.argv[1].split(",")) - {""}
    sys.meta_path.insert(0, Block())
    import slipway_components as sc
    """
)


def _run(blocked: str, body: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCK + textwrap.dedent(body), blocked],
        capture_output=True,
        text=True,
        check=False,
    )


def test_every_public_name_resolves_at_the_root() -> None:
    for name in slipway_components.__all__:
        assert getattr(slipway_components, name).__name__ == name


def test_strategy_and_traffic_args_are_exported() -> None:
    for name in ("StrategyArgs", "TrackArgs", "TrafficArgs", "StepArgs", "AnalysisArgs"):
        assert name in slipway_components.__all__


def test_every_args_model_of_the_strategies_and_traffic_is_exported() -> None:
    """A consumer builds StrategyArgs(pre_rollout=PreRolloutArgs(...), notifications=...)
    from the root; PreRolloutArgs, NotificationsArgs and the route args were missing."""
    import inspect

    from slipway_components import strategies, traffic

    for module in (strategies, traffic):
        for name, obj in vars(module).items():
            if name.endswith("Args") and inspect.isclass(obj) and obj.__module__ == module.__name__:
                assert name in slipway_components.__all__, name


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        _ = slipway_components.Nope


def test_kubernetes_components_work_without_any_cloud_sdk() -> None:
    proc = _run(
        "pulumi_aws,pulumi_gcp",
        """
        missing = []
        for name in sc.__all__:
            try:
                getattr(sc, name)
            except ModuleNotFoundError as err:
                missing.append(f"{name}:{err.name}")
        print(" ".join(missing))
        """,
    )
    assert proc.returncode == 0, proc.stderr
    missing = dict(item.split(":") for item in proc.stdout.split())
    # only the modules that are one cloud's through and through need its SDK at import
    assert set(missing.values()) == {"pulumi_aws", "pulumi_gcp"}
    for name in ("Microservice", "MicroserviceArgs", "StrategyArgs", "ServiceObservability"):
        assert name not in missing
    # registries and secret stores serve both clouds: they import either SDK only when used
    for name in ("EcrRepositories", "ArtifactRegistry", "SecretStore", "ExternalSecret"):
        assert name not in missing


def test_a_missing_extra_is_named_with_the_install_command() -> None:
    proc = _run(
        "pulumi_aws",
        """
        try:
            sc.EksCluster
        except ModuleNotFoundError as err:
            print(err)
        """,
    )
    assert proc.returncode == 0, proc.stderr
    assert 'pip install "slipway-components[aws]"' in proc.stdout


def test_gcp_registry_is_built_without_the_aws_sdk() -> None:
    proc = _run(
        "pulumi_aws",
        """
        import pulumi
        from slipway.engine import run_program

        def program():
            sc.ArtifactRegistry(
                "images",
                sc.ArtifactRegistryArgs(
                    project="acme-prod",
                    region="europe-west1",
                    tags={"team": "platform", "cost-center": "platform"},
                ),
            )

        result = run_program(program, project="p", stack="s", config={}, secret_keys=[])
        print(sorted({r.type for r in result.records if r.custom}))
        assert "pulumi_aws" not in sys.modules
        """,
    )
    assert proc.returncode == 0, proc.stderr
    assert "gcp:artifactregistry/repository:Repository" in proc.stdout


def test_the_distribution_declares_only_the_sdks_it_needs() -> None:
    meta = tomllib.loads((COMPONENTS / "pyproject.toml").read_text())["project"]
    names = {dep.split(">")[0].split("=")[0].split("<")[0] for dep in meta["dependencies"]}
    assert names == {"pulumi", "pulumi-kubernetes", "pydantic"}
    assert all(">=" in dep and "<" in dep for dep in meta["dependencies"]), "ranges, not pins"
    assert set(meta["optional-dependencies"]) == {"aws", "gcp"}
    assert (COMPONENTS / "slipway_components" / "py.typed").is_file()
