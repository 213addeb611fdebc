"""`slipway promote | rollback | canary | abort | flag | scale-down`: edit the declared
deployment state.

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

import dataclasses
import subprocess
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from slipway import say
from slipway.commands import PROJECT_DIR_HELP, lazy_module
from slipway.errors import BadInput

dc = lazy_module("slipway.declared")
gate = lazy_module("slipway.gate")

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


LiveOpt = Annotated[
    int | None,
    typer.Option(
        "--live-replicas",
        min=1,
        max=1000,
        help="Pods the serving slot or stable track runs now (autoscaled services). Default: "
        "read from the cluster with kubectl (the largest count over --kube-context).",
        show_default=False,
    ),
]
ContextOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--kube-context",
        help="kubectl context to read the live pod count from (repeatable). Default: each "
        "target's kubeconfigContext, else kubectl's current context.",
        show_default=False,
    ),
]


def _kubectl(args: list[str]) -> str:
    """The gate's kubectl reader, with a shorter timeout for an interactive command."""
    return gate.run_kubectl(args, timeout=30)


def _live_replicas(
    d: dc.Declared, deployment: str, given: int | None, contexts: list[str] | None
) -> int:
    """The pods `deployment` runs now: `--live-replicas`, else its `spec.replicas` (what its
    autoscaler asks for) read with kubectl from each context, the largest. A count the
    command cannot read refuses the change: guessing would flip onto a cold slot."""
    if given is not None:
        return given
    namespace = f"{d.stack_config.namespace_prefix}{d.service.team}"
    found = [t.kubeconfig_context for t in d.stack_config.targets if t.kubeconfig_context]
    chosen: list[str | None] = list(contexts or found) or [None]
    counts: list[int] = []
    for ctx in chosen:
        args = ["get", "deployment", deployment, "-n", namespace]
        args += ["-o", "jsonpath={.spec.replicas}"]
        if ctx:
            args = ["--context", ctx, *args]
        try:
            out = _kubectl(args).strip()
            counts.append(int(out))
        except (RuntimeError, OSError, ValueError, subprocess.SubprocessError) as exc:
            where = f"context {ctx}" if ctx else "the current kubectl context"
            raise BadInput(
                f"cannot read the pods of deployment {deployment} in namespace {namespace} "
                f"({where}): {exc}; the switch must be sized to the live count, so give it: "
                "--live-replicas N",
                field="--live-replicas",
            ) from None
    if max(counts) < 1:
        raise BadInput(
            f"deployment {deployment} in namespace {namespace} runs no pods; give "
            "--live-replicas N",
            field="--live-replicas",
        )
    return max(counts)


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
    if v is None:
        return "unset"
    if isinstance(v, dict) and set(v) <= {"tag", "digest"} and v:
        return "@".join(str(v[k]) for k in ("tag", "digest") if k in v)
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


def _change(
    d: dc.Declared,
    command: str,
    keys: tuple[str, ...],
    old: Any,
    new: Any,
    also: list[tuple[tuple[str, ...], Any, Any]] | None = None,
) -> None:
    """Set `keys` (the journaled change) and the `also` edits (keys, old, new) in one write,
    validated together: `rollback` restores the file as it was before all of them."""
    text = dc.edit(d, keys, new)
    for other, _, value in also or []:
        text = dc.edit(dataclasses.replace(d, text=text), other, value)
    dc.validate(d, text)
    warning = dc.apply(d, command, keys, old, new, text)
    _done(d, d.field(*keys), old, new)
    for other, before, value in also or []:
        typer.echo(f"  and {d.field(*other)} {_show(before)} -> {_show(value)}")
    _warn(warning)


def _locate(project_dir: Path | None, stack: str, service: str) -> dc.Declared:
    """The service as the stack declares it, in the project given or found from here."""
    from slipway.stackfile import resolve_project_dir

    return dc.locate(resolve_project_dir(project_dir), stack, service)


def _run(fn: Any, *args: Any) -> None:
    try:
        fn(*args)
    except BadInput as exc:
        raise _fail(exc) from None


# -- promote -----------------------------------------------------------------------------------


def _promote(
    service: str,
    stack: str,
    to: Slot | None,
    project_dir: Path | None,
    live: int | None = None,
    contexts: list[str] | None = None,
) -> None:
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
        _promote_slot(d, to, live, contexts)
        return
    if to is not None:
        raise BadInput(
            f"--to applies to blue-green services; {service} uses strategy canary in "
            f"{d.environment}, whose promote makes the canary's build the stable one",
            field="--to",
        )
    _promote_canary(d)


def _promote_canary(d: dc.Declared) -> None:
    """Promotion, not weight 100: the canary's build (version and config) becomes the
    service's, so the stable track rolls to it at its full, autoscaled size; the canary track
    is removed and the weight goes back to 0. The route sends everything to stable only once
    the stable Deployment has rolled (it depends on it); the canary pods go last."""
    st = d.service.strategy
    canary = st.canary
    if canary is None:
        raise BadInput(
            "there is no canary track to promote; declare strategy.canary.version first",
            file=d.relpath,
            field=d.field("strategy", "canary"),
        )
    also: list[tuple[tuple[str, ...], Any, Any]] = []
    for key, value in sorted(canary.config.items()):
        if d.service.config.get(key) != value:
            also.append((("config", key), d.service.config.get(key), value))
    also.append((("strategy", "canary"), "declared", None))
    if st.weight:
        also.append((("strategy", "weight"), st.weight, 0))
    if canary.version is None:
        keys: tuple[str, ...] = ("strategy", "canary")
        old: Any = "declared"
        also = [a for a in also if a[0] != keys]
        new: Any = None
    else:
        keys = ("version",)
        old = d.service.version.model_dump(exclude_none=True)
        new = canary.version.model_dump(exclude_none=True)
    _change(d, "promote", keys, old, new, also)


def _promote_slot(
    d: dc.Declared, to: Slot | None, live: int | None, contexts: list[str] | None
) -> None:
    """Make `to` (default: the idle slot) active. Without `--to`, a slot the last recorded
    promote demoted is not brought back: that is a rollback, and running promote twice by
    mistake must not silently undo the first one.

    With autoscaling the same edit declares `liveReplicas`, the live slot's pod count read
    from the cluster: the target slot is scaled to it before the Service switches, and the
    old slot stays that size for a rollback. A parked target slot is warmed up in the same
    edit (`idleReplicas` removed)."""
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
    also: list[tuple[tuple[str, ...], Any, Any]] = []
    if st.idle_replicas is not None:
        also.append((("strategy", "idleReplicas"), st.idle_replicas, None))
    if d.service.autoscaling is not None:
        count = _live_replicas(d, f"{d.service.name}-{active}", live, contexts)
        if count != st.live_replicas:
            also.append((("strategy", "liveReplicas"), st.live_replicas, count))
    _change(d, "promote", keys, active, target, also)


def promote(
    service: ServiceArg,
    stack: StackOpt,
    to: ToOpt = None,
    live_replicas: LiveOpt = None,
    kube_context: ContextOpt = None,
    project_dir: ProjectOpt = None,
) -> None:
    """Make the new version live. Blue-green: the idle slot (or the --to slot) becomes the
    active one, scaled first to the live slot's pod count (autoscaled services: read from the
    cluster, or --live-replicas), and the old slot stays that size for a rollback until
    `slipway scale-down`. Canary: the canary's build becomes the stable track's build, the
    canary track is removed and the weight returns to 0.

    Changes declared values in the service's catalog file and records them in the journal
    .slipway/journal/<stack>.json, so `slipway rollback` can undo it.

    Exit codes: 0 changed (or nothing to change), 2 bad input: refused, nothing written
    (the message names the file and the field), 70 internal error, 130 interrupted.
    """
    _run(_promote, service, stack, to, project_dir, live_replicas, kube_context)


# -- scale-down --------------------------------------------------------------------------------


def _scale_down(service: str, stack: str, replicas: int | None, project_dir: Path | None) -> None:
    d = _locate(project_dir, stack, service)
    st = d.service.strategy
    if st.type != "blue-green" or st.engine != "native":
        raise BadInput(
            f"{service} uses strategy {st.type} (engine {st.engine}) in {d.environment}; "
            "scale-down parks the idle slot of a native blue-green service",
            file=d.relpath,
            field=d.field("strategy", "type"),
        )
    auto = d.service.autoscaling
    count = replicas
    if count is None:
        count = auto.min_replicas if auto is not None else d.service.replicas
    if st.idle_replicas == count:
        typer.echo(f"{service} ({stack}): the idle slot already runs {count}; nothing changed")
        return
    _change(d, "scale-down", ("strategy", "idleReplicas"), st.idle_replicas, count)


def scale_down(
    service: ServiceArg,
    stack: StackOpt,
    replicas: Annotated[
        int | None,
        typer.Option(
            "--replicas",
            min=0,
            max=1000,
            help="Pods the idle slot keeps (0 parks it). Default: the autoscaling minimum.",
            show_default=False,
        ),
    ] = None,
    project_dir: ProjectOpt = None,
) -> None:
    """Blue-green: end the warm hold after a promote. The idle (old) slot is parked at
    --replicas pods without an HPA, and the live slot's autoscaler may go below the
    promote-time size again. A rollback after this needs a promote (which warms the slot).

    Recorded in .slipway/journal/<stack>.json, so `slipway rollback` can undo it.

    Exit codes: 0 changed (or nothing to change), 2 bad input: refused, nothing written
    (the message names the file and the field), 70 internal error, 130 interrupted.
    """
    _run(_scale_down, service, stack, replicas, project_dir)


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


def _canary(
    service: str,
    stack: str,
    weight: int,
    project_dir: Path | None,
    live: int | None = None,
    contexts: list[str] | None = None,
) -> None:
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
    if weight == 100:
        raise BadInput(
            "weight 100 sends every request to the canary track; that is a promotion: "
            f"slipway promote {service} --stack {stack} makes the canary's build the stable "
            "track's, at the stable track's full size",
            field="--weight",
        )
    also: list[tuple[tuple[str, ...], Any, Any]] = []
    if d.service.autoscaling is not None and weight > st.weight:
        # The canary is sized to its weight's share of the stable track's live pods.
        count = _live_replicas(d, f"{service}-stable", live, contexts)
        if count != st.live_replicas:
            also.append((("strategy", "liveReplicas"), st.live_replicas, count))
    if st.weight == weight and not also:
        typer.echo(f"{service} ({stack}): weight is already {weight}; nothing changed")
        return
    _change(d, "canary", ("strategy", "weight"), st.weight, weight, also)


def canary(
    service: ServiceArg,
    stack: StackOpt,
    weight: Annotated[int, typer.Option("--weight", "-w", help="Percent to the canary, 0–99.")],
    live_replicas: LiveOpt = None,
    kube_context: ContextOpt = None,
    project_dir: ProjectOpt = None,
) -> None:
    """Set the share of requests the canary track gets. The canary track is sized for it
    (its share of the stable track's pods: autoscaled services read them from the cluster,
    or --live-replicas) and the route changes once it is ready. 100 is refused: that is
    `slipway promote`.

    Recorded in .slipway/journal/<stack>.json, so `slipway rollback` can undo it.

    Exit codes: 0 changed (or nothing to change), 2 bad input: refused, nothing written
    (the message names the file and the field), 70 internal error, 130 interrupted.
    """
    _run(_canary, service, stack, weight, project_dir, live_replicas, kube_context)


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
    app.command("scale-down")(scale_down)
