"""`slipway promote | rollback | canary | abort | flag`: edit the declared deployment state.

Each command changes one value in the service's catalog file, under the environment of the
stack (comments and layout kept), validates the result like the program would, and says what it
changed. Nothing touches a cluster: `slipway preview <stack> --against HEAD` shows the effect,
and `pulumi up` (or the pipeline) applies it. Refusals exit 2 with the file, the field and what
is allowed; nothing is written then.

`rollback` undoes a change the journal recorded (slipway.declared) and nothing else: guessing
("flip to the other slot") would put an untested version live. For the same reason `promote`
names the slot it makes active and refuses to flip back a slot it just demoted.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from slipway import declared as dc
from slipway import say
from slipway.errors import BadInput
from slipway.stackfile import PROJECT_DIR_HELP, resolve_project_dir

err = Console(stderr=True)

StackOpt = Annotated[str, typer.Option("--stack", "-s", help="Stack: reads Pulumi.<stack>.yaml.")]
ProjectOpt = Annotated[
    Path | None, typer.Option("--project-dir", help=PROJECT_DIR_HELP, show_default=False)
]
ServiceArg = Annotated[str, typer.Argument(help="Service name, as in the catalog.")]


class OnOff(StrEnum):
    on = "on"
    off = "off"


class Slot(StrEnum):
    blue = "blue"
    green = "green"


ToOpt = Annotated[
    Slot | None,
    typer.Option(
        "--to",
        help="Blue-green: the slot to make active. Default: the idle slot.",
        show_default=False,
    ),
]


def _fail(exc: BadInput) -> typer.Exit:
    say.error(exc)
    return typer.Exit(code=2)


def _done(d: dc.Declared, field: str, old: Any, new: Any, how: str = "") -> None:
    typer.echo(
        f"{d.service.name} ({d.stack}): {how}{field} {_show(old)} -> {_show(new)} in "
        f"{d.relpath}; review with: slipway preview {d.stack} --against HEAD"
    )


def _warn(message: str | None) -> None:
    if message:
        say.warning(message)


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
    warning = dc.apply(d, command, keys, old, new, text)
    _done(d, d.field(*keys), old, new)
    _warn(warning)


def _locate(project_dir: Path | None, stack: str, service: str) -> dc.Declared:
    """The service as the stack declares it, in the project given or found from here."""
    return dc.locate(resolve_project_dir(project_dir), stack, service)


def _run(fn: Any, *args: Any) -> None:
    try:
        fn(*args)
    except BadInput as exc:
        raise _fail(exc) from None


# -- promote -----------------------------------------------------------------------------------


def _promote(service: str, stack: str, to: Slot | None, project_dir: Path | None) -> None:
    d = _locate(project_dir, stack, service)
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
        _promote_slot(d, to)
        return
    if to is not None:
        raise BadInput(
            f"--to applies to blue-green services; {service} uses strategy canary in "
            f"{d.environment}, whose promote sends all traffic to the canary",
            field="--to",
        )
    if st.canary is None:
        raise BadInput(
            "there is no canary track to promote; declare strategy.canary.version first",
            file=d.relpath,
            field=d.field("strategy", "canary"),
        )
    if st.weight == 100:
        typer.echo(
            f"{service} ({stack}): the canary already gets 100% of traffic; nothing changed. "
            "Next: make its version the service's version and remove the canary track"
        )
        return
    _change(d, "promote", ("strategy", "weight"), st.weight, 100)


def _promote_slot(d: dc.Declared, to: Slot | None) -> None:
    """Make `to` (default: the idle slot) active. Without `--to`, a slot the last recorded
    promote demoted is not brought back: that is a rollback, and running promote twice by
    mistake must not silently undo the first one."""
    st = d.service.strategy
    keys = ("strategy", "activeSlot")
    field = d.field(*keys)
    active = st.active_slot
    if to is None:
        found = dc.last_entry(d, field)
        last = found[1] if found is not None else {}
        if last.get("command") == "promote" and last.get("new") == active:
            idle = "green" if active == "blue" else "blue"
            raise BadInput(
                f"the last promote made {active} active (journal "
                f"{dc.journal_relpath(d)}); promoting again would bring back {idle}, the "
                f"slot it demoted. To undo that promote: slipway rollback {d.service.name} "
                f"--stack {d.stack}; to choose a slot: slipway promote {d.service.name} "
                f"--stack {d.stack} --to {idle}",
                file=d.relpath,
                field=field,
            )
        target = "green" if active == "blue" else "blue"
    else:
        target = to.value
    if target == active:
        typer.echo(
            f"{d.service.name} ({d.stack}): {field}: {target} is already active; nothing changed"
        )
        return
    if st.idle_replicas is not None:
        raise BadInput(
            f"the idle slot is scaled down to idleReplicas={st.idle_replicas}; promoting "
            "would send all traffic to it. Remove idleReplicas (the slot warms up), then "
            "promote",
            file=d.relpath,
            field=d.field("strategy", "idleReplicas"),
        )
    _change(d, "promote", keys, active, target)


def promote(
    service: ServiceArg,
    stack: StackOpt,
    to: ToOpt = None,
    project_dir: ProjectOpt = None,
) -> None:
    """Make the new version live: a blue-green service's idle slot (or the --to slot)
    becomes the active one; a canary gets 100% of traffic.

    Changes one declared value in the service's catalog file and records it in the journal
    .slipway/journal/<stack>.json, so `slipway rollback` can undo it.

    Exit codes: 0 changed (or nothing to change), 2 bad input: refused, nothing written
    (the message names the file and the field), 70 internal error, 130 interrupted.
    """
    _run(_promote, service, stack, to, project_dir)


# -- rollback ----------------------------------------------------------------------------------


def _rollback(service: str, stack: str, project_dir: Path | None) -> None:
    d = _locate(project_dir, stack, service)
    found = dc.last_entry(d)
    if found is None:
        raise _nothing_recorded(d)
    index, entry = found
    keys = dc.entry_keys(entry)
    field = d.field(*keys)
    what = f"the recorded {entry.get('command', 'edit')}"
    if entry.get("file") != d.relpath:
        raise BadInput(
            f"{what} of {service} edited {entry.get('file')}, but {service} is now declared "
            f"in {d.relpath}; nothing changed. Undo it by hand",
            file=d.relpath,
            field=field,
        )
    before = entry.get("before")
    if isinstance(before, str) and dc.sha256(d.raw) == entry.get("after_sha256"):
        dc.validate(d, dc.normalise(before)[0])
        dc.write_catalog(d, before.encode("utf-8"), field)
        how = f"rolled back {what} (file restored byte for byte): "
    else:
        current = dc.declared_value(d, keys)
        if dc.is_missing(current) or current != entry.get("new"):
            now = "not set" if dc.is_missing(current) else f"now {_show(current)}"
            raise BadInput(
                f"{field} is {now}, but {what} set it to {_show(entry.get('new'))}: it was "
                "changed since, so there is nothing of that change left to roll back; nothing "
                "changed",
                file=d.relpath,
                field=field,
            )
        text = dc.edit(d, keys, entry.get("old"))
        dc.validate(d, text)
        dc.write_catalog(d, dc.encode(d, text), field)
        how = f"rolled back {what} (the file changed since; only this value reversed): "
    warning = dc.drop_entry(d, index)
    _done(d, field, entry.get("new"), entry.get("old"), how)
    _warn(warning)


def _nothing_recorded(d: dc.Declared) -> BadInput:
    """The refusal when the journal holds no edit of this service: say what it holds and
    what to run instead."""
    st = d.service.strategy
    name = d.service.name
    if st.engine == "argo-rollouts":
        return _argo_refusal(d, "rollback", "undo")
    entries = dc.read_journal(d.project_dir, d.stack)
    journal = dc.journal_relpath(d)
    if not entries:
        held = f"the journal {journal} has no entries"
    else:
        others = sorted({str(e.get("service")) for e in entries})
        n = len(entries)
        held = (
            f"the journal {journal} has {n} {'entry' if n == 1 else 'entries'}, for other "
            f"services ({', '.join(others)})"
        )
    head = (
        f"no recorded promote/canary/abort/flag of {name} in stack {d.stack}; {held}; "
        "nothing changed. "
    )
    if st.type == "rolling":
        return BadInput(
            head + f"{name} uses strategy rolling in {d.environment}: there is no previous "
            "slot or weight to return to; revert the version change in git instead",
            file=d.relpath,
            field=d.field("strategy", "type"),
        )
    if st.type == "blue-green":
        other = "green" if st.active_slot == "blue" else "blue"
        return BadInput(
            head + f"{st.active_slot} is active; to make {other} active name it: "
            f"slipway promote {name} --stack {d.stack} --to {other}",
            file=d.relpath,
            field=d.field("strategy", "activeSlot"),
        )
    return BadInput(
        head + "use `slipway abort` to send all traffic to the stable track",
        file=d.relpath,
        field=d.field("strategy", "weight"),
    )


def rollback(service: ServiceArg, stack: StackOpt, project_dir: ProjectOpt = None) -> None:
    """Undo the last recorded promote, canary, abort or flag of the service.

    The record is local: promote, canary, abort and flag write each change to
    .slipway/journal/<stack>.json in the project (operator state, ignored by git; the last 50
    changes per stack). rollback undoes only changes recorded there, newest first: the file
    returns to its previous bytes when it was not edited since, else only that value goes
    back (when it is still what the change wrote). A change made by hand, in git or on
    another machine is not recorded, and then rollback refuses and says what to run instead.

    Exit codes: 0 changed (or nothing to change), 2 bad input: refused, nothing written
    (the message names the file and the field), 70 internal error, 130 interrupted.
    """
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


def _canary(service: str, stack: str, weight: int, project_dir: Path | None) -> None:
    if not 0 <= weight <= 100:
        raise BadInput(
            f"weight {weight} is outside 0–100 (percent of requests to the canary)",
            field="--weight",
        )
    d = _locate(project_dir, stack, service)
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
    project_dir: ProjectOpt = None,
) -> None:
    """Set the share of requests the canary track gets. Only the route weights change.

    Recorded in .slipway/journal/<stack>.json, so `slipway rollback` can undo it.

    Exit codes: 0 changed (or nothing to change), 2 bad input: refused, nothing written
    (the message names the file and the field), 70 internal error, 130 interrupted.
    """
    _run(_canary, service, stack, weight, project_dir)


def _abort(service: str, stack: str, project_dir: Path | None) -> None:
    d = _locate(project_dir, stack, service)
    _native_canary(d, "abort")
    st = d.service.strategy
    if st.weight == 0:
        typer.echo(f"{service} ({stack}): the canary already gets no traffic; nothing changed")
        return
    _change(d, "abort", ("strategy", "weight"), st.weight, 0)


def abort(service: ServiceArg, stack: StackOpt, project_dir: ProjectOpt = None) -> None:
    """Stop a canary: all requests go back to the stable track (weight 0).

    Recorded in .slipway/journal/<stack>.json, so `slipway rollback` can undo it.

    Exit codes: 0 changed (or nothing to change), 2 bad input: refused, nothing written
    (the message names the file and the field), 70 internal error, 130 interrupted.
    """
    _run(_abort, service, stack, project_dir)


# -- flag --------------------------------------------------------------------------------------


def _flag(service: str, name: str, state: OnOff, stack: str, project_dir: Path | None) -> None:
    d = _locate(project_dir, stack, service)
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
    _change(d, "flag", ("flags", name), flags[name], value)


def flag(
    service: ServiceArg,
    name: Annotated[str, typer.Argument(help="Flag name, as declared under flags.")],
    state: Annotated[OnOff, typer.Argument(help="on or off.")],
    stack: StackOpt,
    project_dir: ProjectOpt = None,
) -> None:
    """Turn a feature flag on or off for the stack's environment. Pods are not restarted.

    Recorded in .slipway/journal/<stack>.json, so `slipway rollback` can undo it.

    Exit codes: 0 changed (or nothing to change), 2 bad input: refused, nothing written
    (the message names the file and the field), 70 internal error, 130 interrupted.
    """
    _run(_flag, service, name, state, stack, project_dir)


def register(app: typer.Typer) -> None:
    for fn in (promote, rollback, canary, abort, flag):
        app.command(fn.__name__)(fn)
