"""Judge resource names against the provider-side rules that no SDK type states.

The SDKs type a name as a plain string, so an id with a `/` in it or a 70-character IAM role
name passes the offline preview and fails only when the provider's API refuses it. The same holds
for uniqueness: two IAM roles of one name in one account are two valid resources to the mock
engine and a conflict to AWS. The rules live in one table, `RULES`, each row with the page of
the provider documentation it comes from; a rule without such a page is not in the table.

Scopes are resolved from what the preview records: a resource's own `region`/`project`/`location`
input, else its provider record's. The AWS account id is not recorded offline, so every AWS
provider of a stack is taken to be one account (the conservative reading: a duplicate across
accounts is reported, not missed); findings that rely on it say so.

Values the preview could not know (`[unknown]`) or redacted (`[secret]`) are skipped.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slipway import judges

OPAQUE = frozenset({"[unknown]", "[secret]"})
"""How `slipway.engine.clean` writes unknown and secret leaves."""

ACCOUNT_ASSUMED = "account not recorded offline: all aws providers of the stack taken as one"

_IAM_NAME = r"[A-Za-z0-9_+=,.@-]+"
_IAM_PATH = r"/|/[\x21-\x7E]+/"
_SECRET_ID = r"[A-Za-z0-9_-]+"

_S3 = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html"
_IAM_QUOTAS = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html"
_IAM_CREATE_ROLE = "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html"
_IAM_POLICY = "https://docs.aws.amazon.com/IAM/latest/APIReference/API_PolicyDetail.html"
_IAM_CREATE_POLICY = "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreatePolicy.html"
_SECRET_MANAGER = (
    "https://cloud.google.com/python/docs/reference/secretmanager/latest/"
    "google.cloud.secretmanager_v1.types.CreateSecretRequest"
)
_S3_FORBIDDEN = (
    (r"\.\.", "must not contain two adjacent periods"),
    (r"^\d{1,3}(\.\d{1,3}){3}$", "must not be formatted as an IP address"),
    (r"^xn--", "must not start with xn--"),
    (r"^sthree-", "must not start with sthree-"),
    (r"^amzn-s3-demo-", "must not start with amzn-s3-demo-"),
    (r"-s3alias$", "must not end with -s3alias (reserved for access point aliases)"),
    (r"--ol-s3$", "must not end with --ol-s3 (reserved for Object Lambda aliases)"),
    (r"\.mrap$", "must not end with .mrap (reserved for Multi-Region Access Points)"),
    (r"--x-s3$", "must not end with --x-s3 (reserved for directory buckets)"),
    (r"--table-s3$", "must not end with --table-s3 (reserved for table buckets)"),
)


@dataclass(frozen=True)
class Rule:
    """One provider-side naming rule: where the name sits, what it may be, where it is unique.

    `scope` is one of: account+region, account, partition (global), project,
    project+location, keyring, role, zone, or none (the property names an existing resource,
    so only its form is judged). `strip` removes an accepted resource-path prefix before the
    check; `identity` adds inputs that, with the name, make a resource distinct (a Route53
    record is its name, type and set identifier); `casefold` marks names the provider
    compares without case.
    """

    rule: str
    type: str
    prop: str
    pattern: str
    min_len: int
    max_len: int
    scope: str
    source: str
    forbid: tuple[tuple[str, str], ...] = ()
    strip: str = ""
    identity: tuple[str, ...] = ()
    casefold: bool = False


RULES: tuple[Rule, ...] = (
    Rule(
        "gcp-secret-id",
        "gcp:secretmanager/secret:Secret",
        "secretId",
        _SECRET_ID,
        1,
        255,
        "project",
        _SECRET_MANAGER,
    ),
    Rule(
        "gcp-secret-id",
        "gcp:secretmanager/secretIamMember:SecretIamMember",
        "secretId",
        _SECRET_ID,
        1,
        255,
        "none",
        _SECRET_MANAGER,
        strip=r"^projects/[^/]+/secrets/",
    ),
    Rule(
        "gcp-secret-id",
        "gcp:secretmanager/secretIamBinding:SecretIamBinding",
        "secretId",
        _SECRET_ID,
        1,
        255,
        "none",
        _SECRET_MANAGER,
        strip=r"^projects/[^/]+/secrets/",
    ),
    Rule(
        "ecr-repository-name",
        "aws:ecr/repository:Repository",
        "name",
        r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*",
        2,
        256,
        "account+region",
        "https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_Repository.html",
    ),
    Rule(
        "iam-role-name",
        "aws:iam/role:Role",
        "name",
        _IAM_NAME,
        1,
        64,
        "account",
        _IAM_QUOTAS,
        casefold=True,
    ),
    Rule("iam-role-path", "aws:iam/role:Role", "path", _IAM_PATH, 1, 512, "none", _IAM_CREATE_ROLE),
    Rule(
        "iam-policy-name",
        "aws:iam/policy:Policy",
        "name",
        _IAM_NAME,
        1,
        128,
        "account",
        _IAM_POLICY,
        casefold=True,
    ),
    Rule(
        "iam-policy-path",
        "aws:iam/policy:Policy",
        "path",
        _IAM_PATH,
        1,
        512,
        "none",
        _IAM_CREATE_POLICY,
        forbid=((r"\*", "must not contain an asterisk"),),
    ),
    Rule(
        "iam-inline-policy-name",
        "aws:iam/rolePolicy:RolePolicy",
        "name",
        _IAM_NAME,
        1,
        128,
        "role",
        _IAM_POLICY,
    ),
    Rule(
        "s3-bucket-name",
        "aws:s3/bucket:Bucket",
        "bucket",
        r"[a-z0-9][a-z0-9.-]*[a-z0-9]",
        3,
        63,
        "partition",
        _S3,
        forbid=_S3_FORBIDDEN,
    ),
    Rule(
        "s3-bucket-name",
        "aws:s3/bucketV2:BucketV2",
        "bucket",
        r"[a-z0-9][a-z0-9.-]*[a-z0-9]",
        3,
        63,
        "partition",
        _S3,
        forbid=_S3_FORBIDDEN,
    ),
    Rule(
        "gcp-service-account-id",
        "gcp:serviceaccount/account:Account",
        "accountId",
        r"[a-z]([-a-z0-9]*[a-z0-9])",
        6,
        30,
        "project",
        "https://cloud.google.com/python/docs/reference/iam/latest/"
        "google.cloud.iam_admin_v1.types.CreateServiceAccountRequest",
    ),
    Rule(
        "kms-alias-name",
        "aws:kms/alias:Alias",
        "name",
        r"alias/[A-Za-z0-9/_-]+",
        1,
        256,
        "account+region",
        "https://docs.aws.amazon.com/kms/latest/developerguide/alias-create.html",
        forbid=((r"^alias/aws/", "alias/aws/ is reserved for AWS managed keys"),),
    ),
    Rule(
        "gcp-kms-key-ring-id",
        "gcp:kms/keyRing:KeyRing",
        "name",
        r"[a-zA-Z0-9_-]+",
        1,
        63,
        "project+location",
        "https://cloud.google.com/ruby/docs/reference/google-cloud-kms-v1/latest/"
        "Google-Cloud-Kms-V1-CreateKeyRingRequest",
    ),
    Rule(
        "gcp-kms-crypto-key-id",
        "gcp:kms/cryptoKey:CryptoKey",
        "name",
        r"[a-zA-Z0-9_-]+",
        1,
        63,
        "keyring",
        "https://cloud.google.com/python/docs/reference/cloudkms/latest/"
        "google.cloud.kms_v1.types.CreateCryptoKeyRequest",
    ),
    Rule(
        "route53-record-name",
        "aws:route53/record:Record",
        "name",
        r"[!-~]+",
        1,
        255,
        "zone",
        "https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/DomainNameFormat.html",
        forbid=((r"(^|\.)[^.]{64,}", "each label must be at most 63 characters"),),
        identity=("type", "setIdentifier"),
        casefold=True,
    ),
    Rule(
        "eks-cluster-name",
        "aws:eks/cluster:Cluster",
        "name",
        r"[0-9A-Za-z][A-Za-z0-9_-]*",
        1,
        100,
        "account+region",
        "https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/eks/"
        "aws.sdk.kotlin.services.eks.model/-create-cluster-request/name.html",
    ),
)


@dataclass(frozen=True)
class Finding:
    """One name the provider would refuse, with the rule and the page that says so."""

    urn: str
    name: str
    type: str
    prop: str
    rule: str
    message: str
    source: str

    def __str__(self) -> str:
        return f"{self.name} ({self.type}) {self.prop}: {self.message} [{self.source}]"


def check_value(rule: Rule, value: str) -> list[str]:
    """Why `value` breaks `rule` (empty when it does not); length and pattern per the docs."""
    name = re.sub(rule.strip, "", value, count=1) if rule.strip else value
    problems = []
    if not rule.min_len <= len(name) <= rule.max_len:
        problems.append(f"length {len(name)} outside {rule.min_len}-{rule.max_len}")
    if not re.fullmatch(rule.pattern, name):
        problems.append(f"does not match {rule.pattern}")
    problems.extend(msg for pattern, msg in rule.forbid if re.search(pattern, name))
    return [f"{rule.rule}: {json.dumps(value)} {p}" for p in problems]


def _known(value: Any) -> bool:
    return isinstance(value, str) and value not in OPAQUE


def _provider_inputs(record: dict[str, Any], by_urn: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The inputs of the provider a record names; its `provider` is `<urn>::<id>`."""
    ref = str(record.get("provider") or "")
    provider = by_urn.get(ref.rsplit("::", 1)[0]) if ref else None
    return (provider or {}).get("inputs") or {}


def _setting(record: dict[str, Any], key: str, provider: dict[str, Any]) -> str:
    for source in (record.get("inputs") or {}, provider):
        if _known(source.get(key)):
            return str(source[key])
    return "unknown"


def _account(provider: dict[str, Any]) -> str | None:
    """The one AWS account a provider is held to (`allowedAccountIds`), if it records one."""
    allowed = provider.get("allowedAccountIds")
    if isinstance(allowed, str):  # provider inputs travel as JSON strings
        try:
            allowed = json.loads(allowed)
        except json.JSONDecodeError:
            return None
    if isinstance(allowed, list) and len(allowed) == 1 and _known(allowed[0]):
        return str(allowed[0])
    return None


def _scope(rule: Rule, record: dict[str, Any], provider: dict[str, Any]) -> tuple[str, bool]:
    """The scope a name must be unique in, and whether it rests on the assumed AWS account
    (a provider without one `allowedAccountIds` leaves the account unknown offline)."""
    inputs = record.get("inputs") or {}
    account = _account(provider)
    prefix = f"account {account}, " if account else ""
    assumed = account is None
    resolvers: dict[str, Callable[[], tuple[str, bool]]] = {
        "account+region": lambda: (
            f"{prefix}region {_setting(record, 'region', provider)}",
            assumed,
        ),
        "account": lambda: (f"account {account}" if account else "account", assumed),
        "partition": lambda: ("partition", False),
        "project": lambda: (f"project {_setting(record, 'project', provider)}", False),
        "project+location": lambda: (
            f"project {_setting(record, 'project', provider)}, "
            f"location {_setting(record, 'location', provider)}",
            False,
        ),
        "keyring": lambda: (f"key ring {inputs.get('keyRing', 'unknown')}", False),
        "role": lambda: (f"{prefix}role {inputs.get('role', 'unknown')}", assumed),
        "zone": lambda: (f"zone {inputs.get('zoneId', 'unknown')}", False),
    }
    return resolvers[rule.scope]()


def judge(records: list[dict[str, Any]]) -> list[Finding]:
    """Every finding over one preview's records: malformed names, then duplicates in scope."""
    by_urn = {str(r.get("urn")): r for r in records}
    rules: dict[str, list[Rule]] = {}
    for rule in RULES:
        rules.setdefault(rule.type, []).append(rule)
    findings: list[Finding] = []
    seen: dict[tuple[Any, ...], dict[str, Any]] = {}
    for record in records:
        inputs = record.get("inputs") or {}
        urn, name, typ = str(record.get("urn", "")), str(record.get("name", "")), record["type"]
        for rule in rules.get(typ, []):
            value = inputs.get(rule.prop)
            if not _known(value):
                continue
            findings.extend(
                Finding(urn, name, typ, rule.prop, rule.rule, msg, rule.source)
                for msg in check_value(rule, value)
            )
            if rule.scope == "none":
                continue
            provider = _provider_inputs(record, by_urn)
            where, assumed = _scope(rule, record, provider)
            extra = tuple(str(inputs.get(k)) for k in rule.identity)
            key_name = value.casefold() if rule.casefold else value
            key = (rule.rule, where, key_name, extra)
            first = seen.setdefault(key, record)
            if first is record:
                continue
            note = f"; {ACCOUNT_ASSUMED}" if assumed else ""
            msg = (
                f"{rule.rule}: {json.dumps(value)} already used by {first.get('name')} "
                f"in the same {rule.scope} scope ({where}){note}"
            )
            findings.append(Finding(urn, name, typ, rule.prop, rule.rule, msg, rule.source))
    return findings


def main(argv: list[str] | None = None) -> int:
    """`python -m slipway.judges.name_rules resources.json`: 0 clean, 1 findings, 2 bad input."""
    return judges.main_for("name_rules", judge, argv)


if __name__ == "__main__":
    sys.exit(main())
