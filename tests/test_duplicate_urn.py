"""The offline engine refuses a second resource with a URN already registered, as the real
engine does ("Duplicate resource URN"), instead of silently keeping one."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s
import pytest

from slipway.engine import DuplicateUrn, run_program


def _twice() -> None:
    for _ in range(2):
        k8s.Provider("same", context="kind-x")


def _distinct() -> None:
    k8s.Provider("one", context="kind-x")
    k8s.Provider("two", context="kind-x")


def test_two_resources_with_one_urn_stop_the_run() -> None:
    with pytest.raises(DuplicateUrn, match=r"Duplicate resource URN .*::same"):
        run_program(_twice, project="p", stack="s", config={}, secret_keys=[])


def test_the_same_name_under_a_parent_of_another_type_is_another_urn() -> None:
    def program() -> None:
        for kind in ("A", "B"):
            holder = pulumi.ComponentResource(f"test:x:{kind}", kind.lower())
            k8s.Provider("same", context="kind-x", opts=pulumi.ResourceOptions(parent=holder))

    records = run_program(program, project="p", stack="s", config={}, secret_keys=[]).records
    assert len([r for r in records if r.name == "same"]) == 2


def test_the_same_name_under_two_parents_of_one_type_is_one_urn() -> None:
    """A URN holds the parent's type, not its name: the engine refuses this too."""

    def program() -> None:
        for name in ("a", "b"):
            holder = pulumi.ComponentResource("test:x:Holder", name)
            k8s.Provider("same", context="kind-x", opts=pulumi.ResourceOptions(parent=holder))

    with pytest.raises(DuplicateUrn):
        run_program(program, project="p", stack="s", config={}, secret_keys=[])


def test_distinct_names_pass() -> None:
    records = run_program(_distinct, project="p", stack="s", config={}, secret_keys=[]).records
    assert sorted(r.name for r in records) == ["one", "two"]
