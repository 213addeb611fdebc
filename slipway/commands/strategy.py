"""`slipway promote | rollback | canary | abort | flag`: edit the declared deployment state.

Each command changes one value in the service's catalog file, under the environment of the
stack (comments and layout kept), validates the result like the program would, and says what it
changed. Nothing touches a cluster: `slipway preview <stack> --against HEAD` shows the effect,
and `pulumi up` (or the pipeline) applies it. Refusals exit 2 with the file, the field and what
is allowed; nothing is written then.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from slipway import declared as dc
from slipway.errors import BadInput

err = Console(stderr=True)

StackOpt = Annotated[str, typer.Option("--stack", "-s", help="Stack: reads Pulumi.<stack>.yaml.")]
ProjectOpt = Annotated[
    Path, typer.Option("--project-dir", help="Project folder; default: current folder.")
]
ServiceArg = Annotated[str, typer.Argument(help="Service name, as in the catalog.")]


class OnOff(StrEnum):
    on = "on"
    off = "off"


def _fail(exc: BadInput) -> typer.Exit:
    err.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False, soft_wrap=True)
    return typer.Exit(code=2)


def _done(d: dc.Declared, field: str, old: Any, new: Any) -> None:
    typer.echo(
        f"{d.service.name} ({d.stack}): {field} {_show(old)} -> {_show(new)} in {d.relpath}; "
        f"review with: slipway preview {d.stack} --against HEAD"
    )


def _show(v: Any) -> str:
    if isinstance(v, bool):
        return "on" if v else "off"
    return str(v)


def _argo_refusal(d: dc.Declared, command: str, kubectl: str) -> BadInput:
    ns = f"{d.stack_config.namespace_prefix}{d.service.team}"
    return BadInput(
        f"{d.service.name} uses engine argo-rollouts: Argo Rollouts decides {command} "
        f"in-cluster from its steps and analysis; run `kubectl argo rollouts {kubectl} "
        f"{d.service.name} -n {ns}`",
        file=d.relpath,
        field=d.field("strategy", "engine"),
    )


def _change(d: dc.Declared, command: str, keys: tuple[str, ...], old: Any, new: Any) -> None:
    text = dc.edit(d, keys, new)
    dc.validate(d, text)
    dc.record(d, command, d.field(*keys), old, new, text)
    _done(d, d.field(*keys), old, new)


def _run(fn: Any, *args: Any) -> None:
    try:
        fn(*args)
    except BadInput as exc:
        raise _fail(exc) from None


# -- promote -----------------------------------------------------------------------------------


def _promote(service: str, stack: str, project_dir: Path) -> None:
    d = dc.locate(project_dir, stack, service)
    st = d.service.strategy
    if st.type == "rolling":
        raise BadInput(
            f"{service} uses strategy rolling in {d.environment}: there is no slot or track "
            "to promote; allowed for blue-green and canary services",
            file=d.relpath,
            field=d.field("strategy", "type"),
        )
    if st.engine == "argo-rollouts":
        raise _argo_refusal(d, "promotion", "promote")
    if st.type == "blue-green":
        if st.idle_replicas is not None:
            raise BadInput(
                f"the idle slot is scaled down to idleReplicas={st.idle_replicas}; promoting "
                "would send all traffic to it. Remove idleReplicas (the slot warms up), then "
                "promote",
                file=d.relpath,
                field=d.field("strategy", "idleReplicas"),
            )
        new = "green" if st.active_slot == "blue" else "blue"
        _change(d, "promote", ("strategy", "activeSlot"), st.active_slot, new)
        return
    if st.canary is None:
        raise BadInput(
            "there is no canary track to promote; declare strategy.canary.version first",
            file=d.relpath,
            field=d.field("strategy", "canary"),
        )
    if st.weight == 100:
        raise BadInput(
            "the canary already gets 100% of traffic; make its version the service's version "
            "and remove the canary track",
            file=d.relpath,
            field=d.field("strategy", "weight"),
        )
    _change(d, "promote", ("strategy", "weight"), st.weight, 100)


def promote(service: ServiceArg, stack: StackOpt, project_dir: ProjectOpt = Path(".")) -> None:
    """Make the new version live: a blue-green service's idle slot becomes the active one;
    a canary gets 100% of traffic. Changes one declared value."""
    _run(_promote, service, stack, project_dir)


# -- rollback ----------------------------------------------------------------------------------


def _rollback(service: str, stack: str, project_dir: Path) -> None:
    d = dc.locate(project_dir, stack, service)
    st = d.service.strategy
    if st.type == "rolling":
        raise BadInput(
            f"{service} uses strategy rolling in {d.environment}: there is no previous slot "
            "or weight to return to; revert the version change in git instead",
            file=d.relpath,
            field=d.field("strategy", "type"),
        )
    if st.engine == "argo-rollouts":
        raise _argo_refusal(d, "rollback", "undo")
    found = dc.last_entry(d)
    if found is not None:
        index, entry = found
        if entry.get("file") == d.relpath and dc.sha256(d.text) == entry.get("after_sha256"):
            dc.validate(d, entry["before"])
            dc.write_text(d.path, entry["before"])
            dc.drop_entry(d, index)
            _done(d, entry["field"], entry["new"], entry["old"])
            return
    if st.type == "blue-green":
        previous = "green" if st.active_slot == "blue" else "blue"
        _change(d, "rollback", ("strategy", "activeSlot"), st.active_slot, previous)
        return
    if found is not None and isinstance(found[1].get("old"), int):
        _change(d, "rollback", ("strategy", "weight"), st.weight, found[1]["old"])
        return
    raise BadInput(
        "no recorded canary step to roll back; use `slipway abort` to send all traffic to "
        "the stable track",
        file=d.relpath,
        field=d.field("strategy", "weight"),
    )


def rollback(service: ServiceArg, stack: StackOpt, project_dir: ProjectOpt = Path(".")) -> None:
    """Undo the last promote or canary step: the file returns to its previous bytes when it
    was not edited since, else only the slot or weight goes back."""
    _run(_rollback, service, stack, project_dir)


# -- canary / abort ----------------------------------------------------------------------------


def _native_canary(d: dc.Declared, command: str) -> None:
    st = d.service.strategy
    if st.type != "canary":
        raise BadInput(
            f"{d.service.name} uses strategy {st.type} in {d.environment}; {command} applies "
            "to canary services",
            file=d.relpath,
            field=d.field("strategy", "type"),
        )
    if st.engine == "argo-rollouts":
        verb = "abort" if command == "abort" else "set weight"
        raise _argo_refusal(d, "the canary weight", verb)


def _canary(service: str, stack: str, weight: int, project_dir: Path) -> None:
    if not 0 <= weight <= 100:
        raise BadInput(
            f"weight {weight} is outside 0–100 (percent of requests to the canary)",
            field="--weight",
        )
    d = dc.locate(project_dir, stack, service)
    _native_canary(d, "canary")
    st = d.service.strategy
    if st.canary is None:
        raise BadInput(
            "there is no canary track to send traffic to; declare strategy.canary.version",
            file=d.relpath,
            field=d.field("strategy", "canary"),
        )
    if st.weight == weight:
        typer.echo(f"{service} ({stack}): weight is already {weight}; nothing changed")
        return
    _change(d, "canary", ("strategy", "weight"), st.weight, weight)


def canary(
    service: ServiceArg,
    stack: StackOpt,
    weight: Annotated[int, typer.Option("--weight", "-w", help="Percent to the canary, 0–100.")],
    project_dir: ProjectOpt = Path("."),
) -> None:
    """Set the share of requests the canary track gets. Only the route weights change."""
    _run(_canary, service, stack, weight, project_dir)


def _abort(service: str, stack: str, project_dir: Path) -> None:
    d = dc.locate(project_dir, stack, service)
    _native_canary(d, "abort")
    st = d.service.strategy
    if st.weight == 0:
        typer.echo(f"{service} ({stack}): the canary already gets no traffic; nothing changed")
        return
    _change(d, "abort", ("strategy", "weight"), st.weight, 0)


def abort(service: ServiceArg, stack: StackOpt, project_dir: ProjectOpt = Path(".")) -> None:
    """Stop a canary: all requests go back to the stable track (weight 0)."""
    _run(_abort, service, stack, project_dir)


# -- flag --------------------------------------------------------------------------------------


def _flag(service: str, name: str, state: OnOff, stack: str, project_dir: Path) -> None:
    d = dc.locate(project_dir, stack, service)
    flags = d.service.flags
    if name not in flags:
        raise BadInput(
            f"unknown flag {name!r}; flags of {service}: {', '.join(sorted(flags)) or 'none'} "
            "(declare a new flag in the catalog file first)",
            file=d.relpath,
            field="flags",
        )
    value = state is OnOff.on
    if flags[name] == value:
        typer.echo(f"{service} ({stack}): flag {name} is already {state.value}; nothing changed")
        return
    keys = ("flags", name)
    text = dc.edit(d, keys, value)
    dc.validate(d, text)
    dc.write_text(d.path, text)
    _done(d, d.field(*keys), flags[name], value)


def flag(
    service: ServiceArg,
    name: Annotated[str, typer.Argument(help="Flag name, as declared under flags.")],
    state: Annotated[OnOff, typer.Argument(help="on or off.")],
    stack: StackOpt,
    project_dir: ProjectOpt = Path("."),
) -> None:
    """Turn a feature flag on or off for the stack's environment. Pods are not restarted."""
    _run(_flag, service, name, state, stack, project_dir)


def register(app: typer.Typer) -> None:
    for fn in (promote, rollback, canary, abort, flag):
        app.command(fn.__name__)(fn)
