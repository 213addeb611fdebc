"""Offline preview: the real program under mocks, manifests, policy, diff — written atomically.

API (also used by tests, diffs and benchmarks):

- `render(project_dir, stack, *, config_overrides=None) -> Rendered`: run the stack's program
  offline; returns the resource records (as in `resources.json`), the manifests
  (`manifests/<target>/<namespace or _cluster>/<Kind>-<name>.yaml` -> YAML text) and warnings.
- `output_files(rendered, diagnostics=None, diff=None) -> dict[str, bytes]`: every output file.
- `write_atomically(out_dir, files)`: replace `out_dir` in one rename; on error nothing changes.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import glob
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from slipway import children, redact, say
from slipway.engine import (
    ORGANIZATION,
    REDACTED,
    UNSET,
    Record,
    RequiredKey,
    run_program,
    to_json_bytes,
)
from slipway.errors import BadInput
from slipway.outdir import MARKER, current_umask, is_slipway_output, marker_bytes, write_error
from slipway.redact import redact_bytes
from slipway.stackfile import load_yaml_file, read_stack_file

if TYPE_CHECKING:
    from slipway.cache import Cache

PROGRAM = "__main__.py"


@dataclass
class Rendered:
    stack: str
    records: list[Record]
    manifests: dict[str, str]
    warnings: list[str] = field(default_factory=list)
    required: list[RequiredKey] = field(default_factory=list)
    """Every config key the program required, present or missing (`engine.RequiredKey`)."""

    @property
    def resources(self) -> list[dict[str, Any]]:
        return [r.to_json() for r in self.records]

    @property
    def missing_config(self) -> list[RequiredKey]:
        """Required keys without a value: `pulumi preview`/`up` stop at the first one."""
        return [k for k in self.required if k.missing]


def missing_config_lines(rendered: Rendered) -> list[str]:
    """One line per missing required key: the key, the stack file, the command that sets it.

    Never a value: offline a missing secret reads as `[secret]`, a plain one as `[unset]`."""
    stack_file = f"Pulumi.{rendered.stack}.yaml"
    lines = []
    for k in rendered.missing_config:
        kind, flag, shown = ("secret", " --secret", REDACTED) if k.secret else ("", "", UNSET)
        lines.append(
            f"required {kind + ' ' if kind else ''}config {k.key} is not set in {stack_file} "
            f"(offline it reads {shown}; the real engine stops): "
            f"pulumi config set{flag} {k.key} -s {rendered.stack}"
        )
    return lines


def catalog_dir(project_dir: Path, config: dict[str, str], project: str, stack_file: str) -> Path:
    """The stack's catalog folder (`slipway:catalog`, default `services`), which must lie
    inside the project (checked as the program checks it, before anything reads it)."""
    from stacks.config import check_catalog_path
    from stacks.loader import _parse

    value = str(_parse(config.get(f"{project}:catalog", "services")))
    try:
        check_catalog_path(value)
    except ValueError as exc:
        raise BadInput(str(exc), file=stack_file, field=f"{project}:catalog") from None
    return project_dir / value


def _catalog_secret_keys(catalog: Path, config: dict[str, str], project: str) -> list[str]:
    """Config keys the catalog reads secrets from (so missing ones can be reported)."""
    from stacks.catalog import load_catalog

    env = config.get(f"{project}:environment", "dev")
    keys = set()
    for svc in load_catalog(catalog, env):
        keys.update(s.key for s in svc.secrets if s.source == "pulumi-config")
    return sorted(keys)


@dataclass
class Job:
    """What one run of the program needs, checked before anything runs."""

    project_dir: Path
    stack: str
    project: str
    program: Path
    config: dict[str, str]
    secret_keys: list[str]
    warnings: list[str]
    catalog: Path
    unset: list[str] = field(default_factory=list)
    """Config keys given an offline placeholder (missing catalog secrets), full names."""
    first_run: bool = False
    """Answer as the engine's first preview of an empty stack (`engine.first_run_state`)."""
    stack_outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Recorded outputs of the stacks the program references (`STACK_OUTPUTS`)."""


def prepare(
    project_dir: Path,
    stack: str,
    *,
    config_overrides: dict[str, str] | None = None,
    secret_overrides: dict[str, str] | None = None,
    first_run: bool = False,
    cache: Cache | None = None,
) -> Job:
    """Read the stack file and the catalog's secret keys; BadInput for what is wrong there.

    A missing catalog secret gets a redacted placeholder value; whether the program requires
    it (and so whether `pulumi up` would stop) is known once it has run (`Rendered.required`).
    A services stack's platform render is read from `cache` when it holds the same content.
    """
    project_dir = project_dir.resolve()
    from slipway.stackfile import project_name

    project = project_name(project_dir)
    sf = read_stack_file(project_dir, stack)
    config = dict(sf.config)
    secret_keys = list(sf.secret_keys)
    config.update(config_overrides or {})
    redact.register((secret_overrides or {}).values())
    for key, value in (secret_overrides or {}).items():
        config[key] = value
        secret_keys.append(key)
    warnings: list[str] = []
    catalog = catalog_dir(project_dir, config, project, sf.path.name)
    unset = []
    for key in _catalog_secret_keys(catalog, config, project):
        full = f"{project}:{key}"
        if full not in config:
            unset.append(full)
            config[full] = REDACTED
            secret_keys.append(full)
    program = project_dir / PROGRAM
    if not program.is_file():
        raise BadInput("no Pulumi program here", file=str(program))
    stack_outputs = read_stack_outputs(project_dir)
    _platform_outputs(project_dir, project, stack, config, stack_outputs, warnings, cache)
    return Job(
        project_dir,
        stack,
        project,
        program,
        config,
        secret_keys,
        warnings,
        catalog,
        unset,
        first_run=first_run,
        stack_outputs=stack_outputs,
    )


def platform_stack_of(config: dict[str, str], project: str) -> tuple[str, str] | None:
    """(stack name, StackReference name) of a services-layer stack's platform, else None."""
    if config.get(f"{project}:layer") != "services":
        return None
    env = config.get(f"{project}:environment", "")
    name = config.get(f"{project}:platformStack") or f"{env}-platform"
    ref = name if "/" in name else f"{ORGANIZATION}/{project}/{name}"
    return name.rsplit("/", 1)[-1], ref


PLATFORM_FROM_PREVIEW = "no outputs recorded in " + "stack-outputs.yaml"
"""How the note on a services stack's platform outputs begins when they come from the
platform's offline preview (mock ids and accounts, not the deployed ones)."""


def _platform_outputs(
    project_dir: Path,
    project: str,
    stack: str,
    config: dict[str, str],
    recorded: dict[str, dict[str, Any]],
    warnings: list[str],
    cache: Cache | None = None,
) -> None:
    """A services stack reads its platform stack's outputs: the recorded ones
    (`STACK_OUTPUTS`, under the reference's name, whatever the organization) when there are,
    else those of the platform's own offline preview, as after its `pulumi up` (the order a
    first deployment follows), kept in `cache` under the content that preview reads."""
    found = platform_stack_of(config, project)
    if found is None or found[1] in recorded:
        return
    name, ref = found
    here = f"Pulumi.{stack}.yaml"
    field = f"{project}:platformStack"
    parts = ref.split("/")
    if len(parts) != 3 or not all(parts):
        raise BadInput(
            f"{ref!r} is not a stack reference; give <stack> or <org>/<project>/<stack>",
            file=here,
            field=field,
        )
    same_stack = [k for k in recorded if k.split("/")[1:] == parts[1:]]
    if len(same_stack) == 1:  # recorded under the real organization's name
        recorded[ref] = recorded[same_stack[0]]
        return
    if parts[1] != project:
        return  # another project's stack: only a recording can answer (the program says so)
    if name == stack:
        raise BadInput(f"stack {stack!r} names itself as its platform", file=here, field=field)
    platform_file = project_dir / f"Pulumi.{name}.yaml"
    if not platform_file.is_file():
        raise BadInput(
            f"the platform stack {name!r} has no file {platform_file.name} in the project, "
            f"and {STACK_OUTPUTS} records no outputs for {ref!r}; name an existing platform "
            f"stack, or record its outputs (`pulumi stack output --json -s {ref}`)",
            file=here,
            field=field,
        )
    if platform_stack_of(read_stack_file(project_dir, name).config, project) is not None:
        raise BadInput(
            f"stack {stack!r} builds on {name!r}, which is a services stack too; "
            "platformStack must name a stack of layer platform",
            file=here,
            field=field,
        )
    platform = prepare(project_dir, name)
    warnings.append(f"{ref}: {PLATFORM_FROM_PREVIEW}; using those of its offline preview")
    key = platform_key(platform) if cache is not None else None
    if cache is not None and key is not None:
        files = cache.get("platform", key)
        if files is not None:
            try:
                outputs = json.loads(files[PLATFORM_OUTPUTS])
                if not isinstance(outputs, dict):
                    raise ValueError("not a mapping")
            except (ValueError, UnicodeDecodeError, RecursionError) as exc:
                say.note(
                    f"cache entry {cache.entry('platform', key)} is damaged ({exc}); "
                    "rendering it again"
                )
                cache.remove("platform", key)
            else:
                recorded[ref] = outputs
                return
    from slipway.render_process import RenderRun

    # In a child process like any render: an interrupt ends it cleanly, and its memory goes
    # back before the services stack runs.
    with RenderRun(platform) as run:
        for _ in run.batches():
            pass
    recorded[ref] = dict(run.outputs or {})
    if cache is not None and key is not None:
        data = json.dumps(recorded[ref], sort_keys=True).encode()
        if json.loads(data) == recorded[ref]:  # only what JSON gives back as it was
            cache.put("platform", key, {PLATFORM_OUTPUTS: data})


PLATFORM_OUTPUTS = "outputs.json"


def platform_key(job: Job) -> str:
    """The cache key of a platform stack's offline preview: what it reads (its stack's
    config, the recorded outputs, the program and the project's own Python files, the
    catalog, the packages it runs: `cache.CODE` and every package folder of the project)
    and the interpreter with its installed packages. Content only: no path, no time."""
    from slipway import cache as caching

    root = job.project_dir
    files: list[tuple[str, bytes]] = []
    for path in sorted(root.iterdir()):
        if path.is_file() and (path.suffix == ".py" or path.name in ("Pulumi.yaml", STACK_OUTPUTS)):
            files.append((f"project/{path.name}", path.read_bytes()))
        elif (
            path.is_dir()
            and (path / "__init__.py").is_file()
            and path.name not in (*caching.CODE, *caching.NOT_READ)
        ):
            files.extend(caching.tree_files(path, f"project/{path.name}"))
    for path in sorted(job.catalog.iterdir()) if job.catalog.is_dir() else []:
        if path.is_file():
            files.append((f"catalog/{path.name}", path.read_bytes()))
    for name in caching.CODE:
        files.extend(caching.package_files(name))
    return caching.digest(
        [
            "slipway platform outputs",
            caching.FORMAT,
            job.stack,
            job.project,
            job.config,
            sorted(job.secret_keys),
            sorted(job.unset),
            job.first_run,
            job.stack_outputs,
            caching.environment(),
            *(part for label, data in files for part in (label, data)),
        ]
    )


STACK_OUTPUTS = "stack-outputs.yaml"
"""The recorded outputs of other stacks, at the project's root: `{reference: {output: value}}`.

A `pulumi.StackReference("org/project/stack")` reads that stack's outputs; the engine reads
them from the backend (known values, even on a first preview), the offline preview from this
file. Record one with `pulumi stack output --json -s org/project/stack`; a secret output is
kept as the string "[secret]" (the preview treats it as a secret and never needs its value).
"""


def read_stack_outputs(project_dir: Path) -> dict[str, dict[str, Any]]:
    """`STACK_OUTPUTS` of the project (empty when there is none); BadInput for a bad file."""
    path = project_dir / STACK_OUTPUTS
    if not path.is_file():
        return {}
    doc = load_yaml_file(path)
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise BadInput(
            "expected a mapping of stack references (org/project/stack) to their outputs; "
            f"given {type(doc).__name__}",
            file=STACK_OUTPUTS,
        )
    for ref, outputs in doc.items():
        if not isinstance(ref, str):
            raise BadInput(
                f"a stack reference is a name (org/project/stack); given {ref!r}",
                file=STACK_OUTPUTS,
            )
        if not isinstance(outputs, dict) or not all(isinstance(o, str) for o in outputs):
            raise BadInput(
                "expected a mapping of output names to values (`pulumi stack output --json`); "
                f"given {type(outputs).__name__}",
                file=STACK_OUTPUTS,
                field=ref,
            )
    return doc


def run_job(
    job: Job,
    on_record: Callable[[Record], None] | None = None,
    required: list[RequiredKey] | None = None,
    outputs: dict[str, Any] | None = None,
) -> list[Record]:
    """Run the job's program under the mock runtime, from the project folder.

    Returns the records sorted by URN with their targets; with `on_record`, hands each one
    over as it is registered instead and returns none (see `engine.run_program`). The keys
    the program required are added to `required` (missing ones do not stop the run).
    """
    cwd = os.getcwd()
    os.chdir(job.project_dir)
    try:
        result = run_program(
            job.program,
            project=job.project,
            stack=job.stack,
            config=job.config,
            secret_keys=job.secret_keys,
            on_record=on_record,
            unset=frozenset(job.unset),
            fill_missing=True,
            first_run=job.first_run,
            stack_outputs=job.stack_outputs,
            stack_outputs_source=STACK_OUTPUTS,
        )
    finally:
        os.chdir(cwd)
    if required is not None:
        required.extend(result.required)
    if outputs is not None:
        outputs.update(result.outputs)
    return result.records


def render(
    project_dir: Path,
    stack: str,
    *,
    config_overrides: dict[str, str] | None = None,
    secret_overrides: dict[str, str] | None = None,
    first_run: bool = False,
) -> Rendered:
    """Run `__main__.py` of `project_dir` for `stack` under the mock runtime, in this process.

    `secret_overrides` are config values treated as secrets (tests use them to prove values
    never reach the output); `first_run` answers as the engine's first preview of an empty
    stack. Raises BadInput for bad config or catalog.
    """
    job = prepare(
        project_dir,
        stack,
        config_overrides=config_overrides,
        secret_overrides=secret_overrides,
        first_run=first_run,
    )
    required: list[RequiredKey] = []
    records = run_job(job, required=required)
    return Rendered(
        stack=stack,
        records=records,
        manifests=manifests(records, catalog=job.catalog),
        warnings=job.warnings,
        required=required,
    )


# -- manifests -------------------------------------------------------------------------------

KIND_ORDER = ("apiVersion", "kind", "metadata")


def _order(obj: dict[str, Any]) -> dict[str, Any]:
    head = {k: obj[k] for k in KIND_ORDER if k in obj}
    tail = {k: obj[k] for k in sorted(obj) if k not in KIND_ORDER}
    return {**head, **tail}


def is_manifest(record: Record) -> bool:
    """A Kubernetes object (custom resource of the kubernetes package, not a provider)."""
    return (
        record.custom
        and record.type.startswith("kubernetes:")
        and isinstance(record.inputs.get("kind"), str)
        and isinstance(record.inputs.get("metadata"), dict)
    )


def manifest_path(record: Record) -> str:
    meta = record.inputs["metadata"]
    ns = meta.get("namespace") or "_cluster"
    name = meta.get("name") or record.name
    target = record.target or "_stack"
    return f"manifests/{target}/{ns}/{record.inputs['kind']}-{name}.yaml"


class _Dumper(yaml.SafeDumper):
    pass


_FastDumper: type = getattr(yaml, "CSafeDumper", _Dumper)


class _CDumper(_FastDumper):  # type: ignore[misc,valid-type]
    pass


def _str_presenter(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str_presenter)
_CDumper.add_representer(str, _str_presenter)

_ONE_LINE = re.compile(r"[\x20-\x7e]*")
_BLOCK_LINE = re.compile(r"(?:[\x20-\x7e]*[\x21-\x7e])?")


def _plain_text(obj: Any) -> bool:
    """True when every string in `obj` is printable ASCII and every multi-line one starts
    with a visible character, has no trailing blanks on any line and does not end in blank
    lines: libyaml then emits the very bytes PyYAML would.

    Other strings may end up double-quoted, where the two emitters fold lines differently;
    those objects keep the pure-Python emitter so the output bytes never depend on which
    emitter ran.
    """
    stack = [obj]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\n" in item:
                if item[0] in " \n" or item.endswith("\n\n"):
                    return False
                if not all(map(_BLOCK_LINE.fullmatch, item.split("\n"))):
                    return False
            elif not _ONE_LINE.fullmatch(item):
                return False
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True


def to_yaml(obj: Any) -> str:
    """Block YAML, keys in Kubernetes order, multi-line strings as literal blocks.

    libyaml's emitter writes it when that gives the same bytes (fleets render thousands of
    objects; the pure-Python emitter was most of the preview's own time).
    """
    dumper = _CDumper if _plain_text(obj) else _Dumper
    return yaml.dump(obj, Dumper=dumper, sort_keys=False, default_flow_style=False, width=100)


def manifest_text(record: Record) -> str:
    """The YAML of one Kubernetes object (`is_manifest(record)`)."""
    return to_yaml(_order(record.inputs))


def manifests(
    records: list[Record],
    texts: Mapping[str, str] | None = None,
    catalog: Path | None = None,
) -> dict[str, str]:
    """Every Kubernetes object as YAML, keyed by its path under the output folder.

    `texts` holds YAML already made by `manifest_text`, by URN (made while the program was
    still running); the rest is made here. Two objects with one path are bad input, naming
    the services (and their files in `catalog`) that made them.
    """
    texts = texts or {}
    out: dict[str, str] = {}
    owners: dict[str, Record] = {}
    for record in records:
        if not is_manifest(record):
            continue
        path = manifest_path(record)
        if path in out:
            first = owners[path]
            a, b = (_owner(r, records, catalog) for r in (first, record))
            files = [f for f in (a[1], b[1]) if f]
            raise BadInput(
                f"two objects render to {path}: one of {a[0]}, one of {b[0]}; object names "
                "must be unique per namespace: rename one of the services"
                + (f" ({' or '.join(dict.fromkeys(files))})" if files else ""),
                file=files[-1] if files else None,
                field="name" if files else record.urn,
            )
        owners[path] = record
        text = texts.get(record.urn)
        out[path] = text if text is not None else manifest_text(record)
    return dict(sorted(out.items()))


def _owner(record: Record, records: list[Record], catalog: Path | None) -> tuple[str, str | None]:
    """(who made `record`, the catalog file of that service or None)."""
    from slipway.findings import catalog_files, owning_service

    service = owning_service(record.urn, {r.urn: r for r in records})
    if service is None:
        return f"resource {record.name}", None
    found = catalog_files(catalog).get(service)
    return f"service {service!r}", found[0] if found else None


# -- output ----------------------------------------------------------------------------------


def output_files(
    rendered: Rendered,
    diagnostics: list[dict[str, Any]] | None = None,
    diff: dict[str, Any] | None = None,
) -> dict[str, bytes]:
    """All files of one preview, keyed by relative path. Deterministic bytes."""
    files: dict[str, bytes] = {"resources.json": to_json_bytes(rendered.resources)}
    for path, text in rendered.manifests.items():
        files[path] = text.encode()
    if diagnostics is not None:
        files.update(policy_file(diagnostics))
    if diff is not None:
        files["diff.json"] = to_json_bytes(diff)
    return files


class Staging:
    """An output folder being written beside `out_dir`, swapped in by `commit`.

    `write` may be called several times (files can be written while other work, the policy
    pack, is still running); `discard` removes everything staged, and the parent folders it
    made. The staged folder carries the marker (`slipway.outdir`) from the start, so only
    slipway's own folders are ever replaced or cleaned up. OS errors (disk full, a read-only
    folder) become BadInput, with the previous output left as it was.
    """

    def __init__(self, out_dir: Path, stack: str) -> None:
        self.out_dir = out_dir.resolve()
        self.tmp: Path | None = None
        self._made: list[Path] = []
        try:
            missing = [p for p in (self.out_dir, *self.out_dir.parents) if not p.exists()]
            for parent in reversed(missing[1:]):
                parent.mkdir()
                self._made.append(parent)
            _recover(self.out_dir)
            name = f".{self.out_dir.name}.tmp-{os.getpid()}-"
            self.tmp = Path(tempfile.mkdtemp(prefix=name, dir=self.out_dir.parent))
            os.chmod(self.tmp, 0o777 & ~current_umask())  # mkdtemp makes it 0700
            (self.tmp / MARKER).write_bytes(marker_bytes(stack))
        except OSError as exc:
            self.discard()
            raise write_error(exc, self.out_dir) from exc

    def write(self, files: Mapping[str, bytes]) -> None:
        """Write `files` (relative path -> bytes) into the staged folder."""
        assert self.tmp is not None, "already committed or discarded"
        made: set[Path] = set()
        try:
            for rel, data in files.items():
                path = self.tmp / rel
                if path.parent not in made:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    made.add(path.parent)
                path.write_bytes(redact_bytes(data))
        except OSError as exc:
            raise write_error(exc, self.out_dir) from exc

    def commit(self) -> None:
        """Swap the staged folder in for `out_dir` (one atomic exchange where possible).

        What is at `out_dir` is checked again right before the swap: it must still be
        slipway's own output, or absent."""
        tmp, out_dir = self.tmp, self.out_dir
        assert tmp is not None, "already committed or discarded"
        try:
            for _ in range(3):
                if os.path.lexists(out_dir):
                    if not is_slipway_output(out_dir):
                        raise BadInput(
                            f"{out_dir} appeared while the preview ran and was not written by "
                            "slipway; it was left as it is",
                            field="--out",
                        )
                    if _exchange(tmp, out_dir):
                        self.tmp = None
                        shutil.rmtree(tmp, ignore_errors=True)  # now the previous output
                        return
                    self._replace_by_renames(tmp, out_dir)
                    self.tmp = None
                    return
                try:
                    tmp.rename(out_dir)
                except OSError as exc:  # another run made it just now: look again
                    if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                        raise
                    continue
                self.tmp = None
                return
            raise BadInput(f"{out_dir} keeps changing; another preview writes there", field="--out")
        except OSError as exc:
            raise write_error(exc, out_dir) from exc
        finally:
            self.discard()

    @staticmethod
    def _replace_by_renames(tmp: Path, out_dir: Path) -> None:
        """Where the exchange is unavailable: park the old output, move the new one in."""
        old = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
        if old.exists() and is_slipway_output(old):
            shutil.rmtree(old)
        out_dir.rename(old)
        tmp.rename(out_dir)
        shutil.rmtree(old, ignore_errors=True)

    def discard(self) -> None:
        """Remove what was staged and the parent folders made for it; `out_dir` stays as
        it was."""
        if self.tmp is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            self.tmp = None
        for parent in reversed(self._made):  # made for this run: removed when still empty
            with contextlib.suppress(OSError):
                parent.rmdir()
        self._made = []


def policy_file(diagnostics: list[dict[str, Any]]) -> dict[str, bytes]:
    """`policy.json`: the policy rows (see `slipway.policy.policy_rows`)."""
    return {"policy.json": to_json_bytes(diagnostics)}


def write_atomically(out_dir: Path, files: dict[str, bytes], stack: str = "") -> None:
    """Write `files` into a sibling temp dir, then swap it in.

    The swap is one atomic exchange of the two directories (Linux `renameat2`), so a crash at
    any moment leaves either the complete previous output or the complete new one in place;
    where the exchange is unavailable it is two renames, and a later run puts back an output
    a crash left parked between them. Leftovers of killed runs are removed first.
    """
    staging = Staging(out_dir, stack)
    try:
        staging.write(files)
        staging.commit()
    finally:
        staging.discard()


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths; False when the platform cannot (then nothing changed)."""
    if sys.platform != "linux":
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    rc = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EPERM, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _recover(out_dir: Path) -> None:
    """Clean up after runs killed mid-write: put a parked previous output back if the
    output is missing, and remove temp dirs whose process is gone."""
    for leftover in sorted(out_dir.parent.glob(f".{glob.escape(out_dir.name)}.*-*")):
        kind, _, rest = leftover.name[len(out_dir.name) + 2 :].partition("-")
        pid = rest.split("-", 1)[0]
        if kind not in ("tmp", "old") or not pid.isdigit() or children.alive(int(pid)):
            continue
        if not is_slipway_output(leftover):
            # A run killed before its marker was whole leaves the folder empty or holding
            # only the marker being written (nothing else is written before it); anything
            # else is not ours and is never removed.
            real_dir = leftover.is_dir() and not leftover.is_symlink()
            if kind == "tmp" and real_dir and {p.name for p in leftover.iterdir()} <= {MARKER}:
                shutil.rmtree(leftover, ignore_errors=True)
            continue
        if kind == "old" and not out_dir.exists():
            leftover.rename(out_dir)
        else:
            shutil.rmtree(leftover, ignore_errors=True)


def plan_rows(rendered: Rendered) -> list[tuple[str, str, str, int]]:
    """(target, namespace, kind, count) for the plan table; cloud resources by type."""
    counts: dict[tuple[str, str, str], int] = {}
    for r in rendered.records:
        if not r.custom:
            continue
        if is_manifest(r):
            ns = r.inputs["metadata"].get("namespace") or "(cluster)"
            key = (r.target or "(stack)", ns, r.inputs["kind"])
        else:
            key = (r.target or "(stack)", "(cloud)", r.type)
        counts[key] = counts.get(key, 0) + 1
    return [(t, n, k, c) for (t, n, k), c in sorted(counts.items())]
