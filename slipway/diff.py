"""What a change to the program does to a stack: added, deleted, updated and replaced resources.

A pull request is reviewed from this diff, so it has to be exact: every reported change is a real
change, and nothing real is left out. Two previews (records of `build/<stack>/resources.json`) are
compared resource by resource:

- resources are matched by URN, or through `aliases` (a renamed component is the same resource,
  never a delete plus an add);
- inputs are compared after normalisation: lists that are sets in meaning (env vars by name,
  ports, subnet ids, RBAC verbs, ...) are matched by key, so re-ordering a catalog is no change;
- a change that the provider cannot apply in place (an immutable field) makes a replacement, and
  the entry says which property forced it.

The replacement rules follow pulumi-kubernetes' own `forceNewProperties` table and, for AWS and
GCP, a small table of force-new properties of the types this project uses. They are an offline
estimate: the real engine's `pulumi preview --diff` is authoritative, and CI runs it wherever
credentials exist.

Pure functions, no Pulumi runtime: importable from tests, the CLI and other teams' tooling.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from slipway.errors import BadInput

SECRET = "[secret]"
"""How the preview writes a secret value; the diff never shows anything else in its place."""

KINDS = ("added", "deleted", "updated", "replaced")
"""The keys of a diff, in reading order."""

OPTION_PROVIDER = "(provider)"
OPTION_PROTECT = "(protect)"
"""Change paths for resource options, which are not inputs (parentheses keep them apart)."""

_MISSING = object()

# --- lists that are sets in meaning -------------------------------------------------------------
# Last path segment -> candidate key fields for lists of objects (the first field present in every
# item, with unique values, is the key); an empty tuple marks a list of scalars compared as a set.
# Lists whose order matters (initContainers, envFrom, route rules, command, args) are not here.
SET_LISTS: dict[str, tuple[str, ...]] = {
    # Kubernetes pod spec (patch merge keys of the API)
    "containers": ("name",),
    "volumes": ("name",),
    "env": ("name",),
    "volumeMounts": ("mountPath",),
    "ports": ("name", "containerPort", "port"),
    "imagePullSecrets": ("name",),
    "tolerations": ("key",),
    "topologySpreadConstraints": ("topologyKey",),
    "hostAliases": ("ip",),
    "items": ("key",),
    # Kubernetes metadata, RBAC and security contexts
    "finalizers": (),
    "add": (),
    "drop": (),
    "verbs": (),
    "apiGroups": (),
    "resources": (),
    "resourceNames": (),
    "nonResourceURLs": (),
    "accessModes": (),
    "subjects": ("name",),
    # AWS and GCP id lists
    "subnetIds": (),
    "securityGroupIds": (),
    "publicAccessCidrs": (),
    "enabledClusterLogTypes": (),
    "instanceTypes": (),
    "oauthScopes": (),
    "cidrBlocks": (),
    "records": (),
}

# --- replacement rules ---------------------------------------------------------------------------
_K8S_METADATA = ("metadata.name", "metadata.namespace", "apiVersion", "kind")
_SELECTOR = ("spec.selector",)

K8S_FORCE_NEW: dict[str, tuple[str, ...]] = {
    "apps/v1:Deployment": _SELECTOR,
    "apps/v1:DaemonSet": _SELECTOR,
    "apps/v1:ReplicaSet": _SELECTOR,
    "apps/v1:StatefulSet": (
        "spec.selector",
        "spec.podManagementPolicy",
        "spec.revisionHistoryLimit",
        "spec.serviceName",
        "spec.volumeClaimTemplates",
    ),
    "batch/v1:Job": ("spec.selector", "spec.template", "spec.completions", "spec.parallelism"),
    "core/v1:Service": ("spec.clusterIP",),
    "core/v1:PersistentVolumeClaim": (
        "spec.storageClassName",
        "spec.accessModes",
        "spec.selector",
        "spec.volumeName",
    ),
    "rbac.authorization.k8s.io/v1:RoleBinding": ("roleRef",),
    "rbac.authorization.k8s.io/v1:ClusterRoleBinding": ("roleRef",),
    "storage.k8s.io/v1:StorageClass": ("parameters", "provisioner"),
}
"""Kubernetes kind -> force-new property paths (from pulumi-kubernetes' forceNew table).

Every kind also replaces on `metadata.name`, `metadata.namespace`, `apiVersion` and `kind`;
ConfigMap, Secret and the Service type rule depend on values and live in `_k8s_reasons`.
"""

CLOUD_FORCE_NEW: dict[str, tuple[str, ...]] = {
    # AWS: properties the provider marks ForceNew, for the types slipway creates.
    "aws:eks/cluster:Cluster": (
        "name",
        "roleArn",
        "vpcConfig.subnetIds",
        "vpcConfig.securityGroupIds",
        "encryptionConfig",
        "kubernetesNetworkConfig.serviceIpv4Cidr",
        "kubernetesNetworkConfig.ipFamily",
    ),
    "aws:eks/nodeGroup:NodeGroup": (
        "clusterName",
        "nodeGroupName",
        "nodeRoleArn",
        "subnetIds",
        "instanceTypes",
        "diskSize",
        "amiType",
        "capacityType",
    ),
    "aws:kms/key:Key": ("customerMasterKeySpec", "keyUsage", "multiRegion", "customKeyStoreId"),
    "aws:kms/alias:Alias": ("name",),
    "aws:ecr/repository:Repository": ("name", "encryptionConfigurations"),
    "aws:ec2/vpc:Vpc": ("cidrBlock", "instanceTenancy"),
    "aws:ec2/subnet:Subnet": ("vpcId", "cidrBlock", "availabilityZone"),
    "aws:iam/role:Role": ("name", "path"),
    "aws:route53/zone:Zone": ("name",),
    "aws:route53/record:Record": ("zoneId",),
    "aws:route53/healthCheck:HealthCheck": ("type", "referenceName"),
    "aws:s3/bucket:Bucket": ("bucket",),
    "aws:secretsmanager/secret:Secret": ("name",),
    # GCP
    "gcp:container/cluster:Cluster": (
        "name",
        "location",
        "project",
        "network",
        "subnetwork",
        "privateClusterConfig",
        "ipAllocationPolicy",
    ),
    "gcp:container/nodePool:NodePool": (
        "name",
        "cluster",
        "location",
        "project",
        "nodeConfig.machineType",
        "nodeConfig.diskSizeGb",
        "nodeConfig.serviceAccount",
    ),
    "gcp:compute/network:Network": ("name", "project", "autoCreateSubnetworks"),
    "gcp:compute/subnetwork:Subnetwork": ("name", "network", "region", "project"),
    "gcp:kms/keyRing:KeyRing": ("name", "location", "project"),
    "gcp:kms/cryptoKey:CryptoKey": ("name", "keyRing", "purpose"),
    "gcp:artifactregistry/repository:Repository": (
        "repositoryId",
        "location",
        "format",
        "project",
        "kmsKeyName",
    ),
    "gcp:serviceaccount/account:Account": ("accountId", "project"),
}
"""Cloud type -> force-new properties (a documented subset; `pulumi preview --diff` decides).

Every `aws:` resource also replaces when its per-resource `region` changes.
"""

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


# --- public API ----------------------------------------------------------------------------------


def compute_diff(old: list[dict], new: list[dict]) -> dict:
    """Compare two previews' resource records; return `added`/`deleted`/`updated`/`replaced`.

    Entries carry `urn`, `type`, `name` and `target` (when the record has one); `updated` and
    `replaced` entries add `changes` (`path`, `old`, `new`) and, when the URN changed through an
    alias, `old_urn`; `replaced` entries add `reason` (the property that forced the replacement)
    and `reasons` (all of them). Each list is sorted by (target, URN).
    """
    old_by_urn = _index(old, "old")
    new_by_urn = _index(new, "new")
    pairs = _match(old_by_urn, new_by_urn)
    matched_old = {o for o, _ in pairs}
    matched_new = {n for _, n in pairs}
    provider_map = {o: n for o, n in pairs}
    new_providers = {urn: rec for urn, rec in new_by_urn.items() if _is_provider(rec)}

    result: dict[str, list[dict]] = {k: [] for k in KINDS}
    for urn, rec in new_by_urn.items():
        if urn not in matched_new:
            result["added"].append(_entry(rec))
    for urn, rec in old_by_urn.items():
        if urn not in matched_old:
            result["deleted"].append(_entry(rec))
    for old_urn, new_urn in pairs:
        o, n = old_by_urn[old_urn], new_by_urn[new_urn]
        changes = diff_values(o.get("inputs") or {}, n.get("inputs") or {})
        changes = [_redact_change(n.get("type", ""), c) for c in changes]
        old_prov = _provider_urn(o.get("provider", ""))
        new_prov = _provider_urn(n.get("provider", ""))
        provider_changed = provider_map.get(old_prov, old_prov) != new_prov
        if provider_changed:
            changes.append(
                {"path": OPTION_PROVIDER, "old": old_prov or None, "new": new_prov or None}
            )
        if bool(o.get("protect")) != bool(n.get("protect")):
            changes.append(
                {
                    "path": OPTION_PROTECT,
                    "old": bool(o.get("protect")),
                    "new": bool(n.get("protect")),
                }
            )
        if not changes:
            continue
        reasons = replace_reasons(n.get("type", ""), o, n, changes, new_providers)
        if provider_changed:
            reasons.append(OPTION_PROVIDER)
        entry = _entry(n)
        if old_urn != new_urn:
            entry["old_urn"] = old_urn
        entry["changes"] = changes
        if reasons:
            entry["reason"] = reasons[0]
            entry["reasons"] = reasons
            result["replaced"].append(entry)
        else:
            result["updated"].append(entry)
    for kind in KINDS:
        result[kind].sort(key=lambda e: (e.get("target") or "", e["urn"]))
    return result


def is_empty(diff: dict) -> bool:
    """True when the diff changes nothing."""
    return not any(diff.get(k) for k in KINDS)


def summary(diff: dict) -> dict[str, int]:
    """Counts per kind, for summary lines (`+N ~N ±N -N`)."""
    return {k: len(diff.get(k) or []) for k in KINDS}


def diff_values(old: Any, new: Any, path: str = "") -> list[dict]:
    """Property-level changes between two input trees, set-like lists compared by key."""
    out: list[dict] = []
    _walk(old, new, path, out)
    return out


def replace_reasons(
    type_: str,
    old: dict,
    new: dict,
    changes: list[dict],
    providers: dict[str, dict] | None = None,
) -> list[str]:
    """The properties among `changes` that force `type_` to be replaced (sorted, unique)."""
    paths = [c["path"] for c in changes if not c["path"].startswith("(")]
    rules: list[str] = []
    if type_.startswith("kubernetes:"):
        rules.extend(_K8S_METADATA)
        rules.extend(K8S_FORCE_NEW.get(type_.removeprefix("kubernetes:"), ()))
        rules.extend(_k8s_reasons(type_, old, new, providers or {}))
    else:
        rules.extend(CLOUD_FORCE_NEW.get(type_, ()))
        if type_.startswith("aws:") and not type_.startswith("aws:index"):
            rules.append("region")
    hits = {rule for rule in rules for p in paths if _under(p, rule)}
    return sorted(hits)


# --- matching ------------------------------------------------------------------------------------


def _index(records: Iterable[dict], side: str) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for rec in records:
        urn = rec.get("urn")
        if not isinstance(urn, str) or not urn:
            raise BadInput(f"{side} record without a urn (keys: {sorted(rec)})", field="urn")
        if urn in out:
            raise BadInput(f"{side} records repeat the urn {urn}", field="urn")
        out[urn] = rec
    return out


def _match(old: dict[str, dict], new: dict[str, dict]) -> list[tuple[str, str]]:
    """Pairs (old urn, new urn): same URN first, then a new record's alias naming an old URN."""
    pairs = [(urn, urn) for urn in sorted(new) if urn in old]
    taken_old = {o for o, _ in pairs}
    aliases = effective_aliases(new)
    for urn in sorted(new):
        if urn in old:
            continue
        for alias in aliases[urn]:
            if alias in old and alias not in taken_old and alias not in new:
                pairs.append((alias, urn))
                taken_old.add(alias)
                break
    return pairs


def effective_aliases(records: dict[str, dict]) -> dict[str, list[str]]:
    """URN -> every URN the resource may have had: its own aliases plus those it inherits.

    A child inherits one alias per alias of its parent, as the engine computes them: the
    parent alias's type chain, and the child's name with the parent's name prefix swapped for
    the alias's name (`api-config` under `api` aliased from `orders` -> `orders-config`). The
    mock runtime sends alias specs and leaves this to the engine, so the diff does it.
    """
    memo: dict[str, list[str]] = {}

    def resolve(urn: str, depth: int = 0) -> list[str]:
        if urn in memo:
            return memo[urn]
        rec = records[urn]
        found = set(_alias_urns(rec))
        parent = rec.get("parent") or ""
        if parent in records and depth < 64:
            parent_name = str(records[parent].get("name", ""))
            for parent_alias in resolve(parent, depth + 1):
                found.add(_child_alias(rec, parent_name, parent_alias))
        memo[urn] = sorted(found)
        return memo[urn]

    return {urn: resolve(urn) for urn in records}


def _child_alias(rec: dict, parent_name: str, parent_alias: str) -> str:
    name = str(rec.get("name", ""))
    parts = parent_alias.split("::")
    if len(parts) < 4:
        return parent_alias
    alias_name = "::".join(parts[3:])
    if parent_name and name.startswith(parent_name):
        name = alias_name + name[len(parent_name) :]
    return "::".join([parts[0], parts[1], f"{parts[2]}${rec.get('type', '')}", name])


def _alias_urns(rec: dict) -> list[str]:
    out = []
    for a in rec.get("aliases") or []:
        if isinstance(a, str):
            out.append(a)
        elif isinstance(a, dict) and isinstance(a.get("urn"), str):
            out.append(a["urn"])
    return out


def _provider_urn(ref: str | None) -> str:
    """`<provider urn>::<id>` -> provider URN ("" for the default provider)."""
    if not ref:
        return ""
    urn, sep, _id = ref.rpartition("::")
    return urn if sep and urn.startswith("urn:") else ref


def _is_provider(rec: dict) -> bool:
    return str(rec.get("type", "")).startswith("pulumi:providers:")


def _entry(rec: dict) -> dict:
    out = {"urn": rec["urn"], "type": rec.get("type", ""), "name": rec.get("name", "")}
    if rec.get("target") is not None:
        out["target"] = rec["target"]
    return out


# --- Kubernetes value-dependent rules ---------------------------------------------------------


def _k8s_reasons(type_: str, old: dict, new: dict, providers: dict[str, dict]) -> list[str]:
    kind = type_.rsplit(":", 1)[-1]
    o_in, n_in = old.get("inputs") or {}, new.get("inputs") or {}
    rules: list[str] = []
    if kind in ("ConfigMap", "Secret") and type_.startswith("kubernetes:core/v1:"):
        flag = "enableConfigMapMutable" if kind == "ConfigMap" else "enableSecretMutable"
        immutable = bool(o_in.get("immutable")) or bool(n_in.get("immutable"))
        provider = providers.get(_provider_urn(new.get("provider", "")), {})
        mutable = _truthy((provider.get("inputs") or {}).get(flag))
        if immutable or not mutable:
            rules.extend(("data", "binaryData") if kind == "ConfigMap" else ("data", "stringData"))
        if kind == "Secret":
            rules.append("type")
    if type_ == "kubernetes:core/v1:Service":
        old_type = _get(o_in, "spec.type") or "ClusterIP"
        new_type = _get(n_in, "spec.type") or "ClusterIP"
        if old_type != new_type and "ExternalName" in (old_type, new_type):
            rules.append("spec.type")
    return rules


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _get(tree: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(tree, dict):
            return None
        tree = tree.get(part)
    return tree


# --- the value walker ----------------------------------------------------------------------------


def _walk(old: Any, new: Any, path: str, out: list[dict]) -> None:
    if _is_secret(old) or _is_secret(new):
        if _freeze(old) != _freeze(new):
            out.append({"path": path, "old": _absent(old), "new": _absent(new)})
        return
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new), key=str):
            _walk(old.get(key, _MISSING), new.get(key, _MISSING), _join(path, key), out)
        return
    if isinstance(old, list) and isinstance(new, list):
        _walk_list(old, new, path, out)
        return
    if old is _MISSING and new is _MISSING:
        return
    if _same(old, new):
        return
    out.append({"path": path, "old": _absent(old), "new": _absent(new)})


def _absent(value: Any) -> Any:
    return None if value is _MISSING else value


def _walk_list(old: list, new: list, path: str, out: list[dict]) -> None:
    segment = _last_segment(path)
    if segment in SET_LISTS:
        keys = SET_LISTS[segment]
        if not keys or not _all_dicts(old, new):
            if _scalar_set(old) == _scalar_set(new):
                return
            if _all_hashable(old) and _all_hashable(new):
                out.append({"path": path, "old": old, "new": new})
                return
        else:
            key = _list_key(old, new, keys)
            if key is not None:
                _walk_keyed(old, new, path, key, out)
                return
    for i in range(max(len(old), len(new))):
        o = old[i] if i < len(old) else _MISSING
        n = new[i] if i < len(new) else _MISSING
        _walk(o, n, f"{path}[{i}]", out)


def _walk_keyed(old: list[dict], new: list[dict], path: str, key: str, out: list[dict]) -> None:
    """Match items by `key`; paths use the item's index in the new list (the old one if gone)."""
    old_pos = {_freeze(item[key]): i for i, item in enumerate(old)}
    new_pos = {_freeze(item[key]): i for i, item in enumerate(new)}
    local: list[dict] = []
    for k, ni in new_pos.items():
        oi = old_pos.get(k)
        if oi is None:
            local.append({"path": f"{path}[{ni}]", "old": None, "new": new[ni]})
        else:
            _walk(old[oi], new[ni], f"{path}[{ni}]", local)
    for k, oi in old_pos.items():
        if k not in new_pos:
            local.append({"path": f"{path}[{oi}]", "old": old[oi], "new": None})
    local.sort(key=lambda c: (_path_sort_key(c["path"]), c["old"] is not None))
    out.extend(local)


def _list_key(old: list[dict], new: list[dict], candidates: tuple[str, ...]) -> str | None:
    for key in candidates:
        for items in (old, new):
            if not all(key in item for item in items):
                break
            values = [_freeze(item[key]) for item in items]
            if len(set(values)) != len(values):
                break
        else:
            return key
    return None


def _all_dicts(*lists: list) -> bool:
    return all(isinstance(x, dict) for items in lists for x in items)


def _all_hashable(items: list) -> bool:
    return all(not isinstance(x, dict | list) for x in items)


def _scalar_set(items: list) -> list:
    return sorted({_freeze(x) for x in items}, key=repr)


def _freeze(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((str(k), _freeze(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _same(old: Any, new: Any) -> bool:
    """Equal values of the same kind: 1 == 1.0 (protobuf turns ints into floats), 1 != "1"."""
    if isinstance(old, bool) or isinstance(new, bool):
        return old is new
    if isinstance(old, int | float) and isinstance(new, int | float):
        return old == new
    return type(old) is type(new) and old == new


def _join(path: str, key: Any) -> str:
    key = str(key)
    if _IDENT.match(key):
        return f"{path}.{key}" if path else key
    quoted = key.replace("\\", "\\\\").replace('"', '\\"')
    return f'{path}["{quoted}"]'


def _last_segment(path: str) -> str:
    tail = re.split(r"[.\[]", path)[-1]
    return tail.rstrip("]").strip('"')


def _path_sort_key(path: str) -> list:
    parts = re.findall(r'\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]|([^.\[\]]+)', path)
    return [(0, int(i), "") if i else (1, 0, q or n) for i, q, n in parts]


def _under(path: str, rule: str) -> bool:
    """True when `path` is `rule` or inside it (list indices included)."""
    if path == rule:
        return True
    if not path.startswith(rule):
        return False
    return path[len(rule)] in ".["


# --- secrets -------------------------------------------------------------------------------------

_SECRET_PATHS = {
    "kubernetes:core/v1:Secret": ("data", "stringData"),
}
"""Inputs that are secret by type, whatever the record says: their values never leave redacted."""


def _redact_change(type_: str, change: dict) -> dict:
    prefixes = _SECRET_PATHS.get(type_, ())
    if any(_under(change["path"], p) for p in prefixes):
        return {
            "path": change["path"],
            "old": None if change["old"] is None else SECRET,
            "new": None if change["new"] is None else SECRET,
        }
    return {
        "path": change["path"],
        "old": redact(change["old"]),
        "new": redact(change["new"]),
    }


_SIG_KEY = "4dabf18193072939515e22adb298388d"
_SIG_SECRET = "1b47061264138c4ac30d75fd1eb44270"
"""Pulumi's wire sentinel for a secret value (`{sig: secret, value: ...}`)."""


def _is_secret(value: Any) -> bool:
    if isinstance(value, dict):
        return value.get(_SIG_KEY) == _SIG_SECRET
    return isinstance(value, str) and value.startswith("[secret")


def redact(value: Any) -> Any:
    """Copy of `value` in which every secret marker (`[secret...]`) reads `[secret]`."""
    if _is_secret(value):
        return SECRET
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    if isinstance(value, str) and value.startswith("[secret"):
        return SECRET
    return value
