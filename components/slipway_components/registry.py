"""Image registries: ECR repositories per service (per AWS target) with cross-region
replication, and an Artifact Registry repository per GCP target.

Repositories hold release artefacts, so they are stateful: immutable tags (a tag always means
the same image), scanning on push, customer-managed encryption keys, lifecycle/cleanup rules,
and `protect` in prod.
"""

from __future__ import annotations

import json
import re

import pulumi
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from slipway_components.cloud_common import check_tags, cloud_sdk, gcp_labels

_SA_DOMAIN = "iam.gserviceaccount.com"
ARTIFACT_REGISTRY_APIS = ("artifactregistry.googleapis.com", "cloudkms.googleapis.com")
"""APIs an Artifact Registry repository with a customer-managed key needs in its project."""
_REPO = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$")

_KMS_ID = re.compile(r"[a-zA-Z0-9_-]+")
KMS_ID_MAX = 63
"""Longest key ring or crypto key id Cloud KMS takes (of `[a-zA-Z0-9_-]`)."""
AUTONAME_SUFFIX = len("-0123456")
"""What the gcp provider appends to a resource's logical name when its `name` is left out
(pulumi-gcp `SetAutonaming(255, "-")`: a dash and 7 random hex digits)."""
KEEP_KMS_NAME = pulumi.ResourceOptions(ignore_changes=["name"])
"""Merged into the options of key rings and crypto keys: a stack made when they had fixed
names keeps them (no replacement, which a protected key refuses), while a new stack and a
replacement get a fresh auto-name (the engine checks a replacement without old inputs)."""


def check_kms_names(name: str, *roles: str) -> None:
    """Refuse a component name whose key rings' and keys' auto-names are no KMS ids.

    Key rings and crypto keys can never be deleted from a project, so a fixed name makes a
    recreated stack fail on "already exists": they are auto-named (`<name>-<role>-` and 7
    random hex digits) instead. A name too long for that fails here, in the preview, rather
    than halfway through `pulumi up`."""
    limit = KMS_ID_MAX - AUTONAME_SUFFIX - max(len(f"-{r}") for r in roles)
    if len(name) > limit or not _KMS_ID.fullmatch(name):
        raise ValueError(
            f"component name {name!r} cannot prefix its Cloud KMS key ring and key ids "
            f"(`{name}-{roles[0]}-<7 hex digits>`, at most {KMS_ID_MAX} of a-z A-Z 0-9 _ -): "
            f"use at most {limit} of those characters"
        )


def _check_services(v: list[str]) -> list[str]:
    bad = [s for s in v if not _REPO.match(s) or len(s) > 200]
    if bad:
        raise ValueError(
            f"service names {bad} are not valid repository names (lower-case a-z0-9._-/)"
        )
    dupes = sorted({s for s in v if v.count(s) > 1})
    if dupes:
        raise ValueError(f"service names repeated: {dupes}")
    return sorted(v)


class EcrRepositoriesArgs(BaseModel):
    """Inputs of `EcrRepositories` (one region)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    region: str = Field(min_length=1)
    """AWS region of these repositories."""
    services: list[str]
    """One repository per service, named `<prefix><service>`."""
    tags: dict[str, str]
    """Tags on every resource; must include `team` and `cost-center`."""
    repository_prefix: str = ""
    """Prepended to repository names; default: none (one account per environment)."""
    keep_images: int = Field(default=200, ge=1, le=10000)
    """Tagged images kept per repository; default: 200."""
    untagged_expiry_days: int = Field(default=14, ge=1, le=3650)
    """Untagged images expire after this many days; default: 14."""
    protect: bool = False
    """Protect repositories and their key from deletion (prod)."""

    @field_validator("services")
    @classmethod
    def _services(cls, v: list[str]) -> list[str]:
        return _check_services(v)

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: dict[str, str]) -> dict[str, str]:
        return check_tags(v)


def ecr_lifecycle_policy(keep_images: int, untagged_expiry_days: int) -> str:
    """Lifecycle rules: expire untagged layers, keep the newest `keep_images` images."""
    return json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": f"expire untagged images after {untagged_expiry_days} days",
                    "selection": {
                        "tagStatus": "untagged",
                        "countType": "sinceImagePushed",
                        "countUnit": "days",
                        "countNumber": untagged_expiry_days,
                    },
                    "action": {"type": "expire"},
                },
                {
                    "rulePriority": 2,
                    "description": f"keep the newest {keep_images} images",
                    "selection": {
                        "tagStatus": "any",
                        "countType": "imageCountMoreThan",
                        "countNumber": keep_images,
                    },
                    "action": {"type": "expire"},
                },
            ]
        },
        sort_keys=True,
    )


class EcrRepositories(pulumi.ComponentResource):
    """ECR repositories for a set of services in one region, encrypted with one KMS key."""

    urls: dict[str, pulumi.Output[str]]
    """Service name -> repository URL in this region."""
    registry_id: pulumi.Output[str]
    """The account's registry id (for replication destinations)."""
    kms_key_arn: pulumi.Output[str]
    """Key encrypting the images."""

    def __init__(
        self, name: str, args: EcrRepositoriesArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("slipway:aws:EcrRepositories", name, {}, opts)
        aws = cloud_sdk("aws")
        stateful = pulumi.ResourceOptions(parent=self, protect=args.protect)
        key = aws.kms.Key(
            f"{name}-key",
            description=f"Encryption of container images in {args.region}",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            region=args.region,
            tags=args.tags,
            opts=stateful,
        )
        self.kms_key_arn = key.arn
        self.urls = {}
        registry_ids: list[pulumi.Output[str]] = []
        policy = ecr_lifecycle_policy(args.keep_images, args.untagged_expiry_days)
        for service in args.services:
            repo_name = f"{args.repository_prefix}{service}"
            res = f"{name}-{service.replace('/', '-')}"
            repo = aws.ecr.Repository(
                res,
                name=repo_name,
                image_tag_mutability="IMMUTABLE",
                image_scanning_configuration={"scan_on_push": True},
                encryption_configurations=[{"encryption_type": "KMS", "kms_key": key.arn}],
                force_delete=False,
                region=args.region,
                tags={**args.tags, "service": service},
                opts=stateful,
            )
            aws.ecr.LifecyclePolicy(
                f"{res}-lifecycle",
                repository=repo.name,
                policy=policy,
                region=args.region,
                opts=pulumi.ResourceOptions(parent=self),
            )
            registry_ids.append(repo.registry_id)
            self.urls[service] = pulumi.Output.all(repo.registry_id, repo.name).apply(
                lambda a, region=args.region: f"{a[0]}.dkr.ecr.{region}.amazonaws.com/{a[1]}"
            )
        self.registry_id = registry_ids[0] if registry_ids else pulumi.Output.from_input("")
        self.register_outputs({"urls": self.urls, "kms_key_arn": self.kms_key_arn})


class EcrReplicationArgs(BaseModel):
    """Inputs of `EcrReplication`: where a source registry copies its images to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source_region: str = Field(min_length=1)
    """Region CI pushes to."""
    destination_regions: list[str] = Field(min_length=1, max_length=25)
    """Regions that receive every pushed image."""
    repository_prefix: str = ""
    """Only repositories starting with this are replicated; default: all of them."""

    @field_validator("destination_regions")
    @classmethod
    def _dest(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError(f"destination_regions {v} repeat a region")
        return sorted(v)

    @model_validator(mode="after")
    def _not_self(self) -> EcrReplicationArgs:
        if self.source_region in self.destination_regions:
            raise ValueError(
                f"source_region {self.source_region!r} is also a destination; "
                "a registry cannot replicate to itself"
            )
        return self


class EcrReplication(pulumi.ComponentResource):
    """Cross-region replication of the registry (one configuration per source registry).

    Destination repositories are the per-target `EcrRepositories`, so replicas land in
    repositories that already have immutable tags, scanning and a KMS key.
    """

    def __init__(
        self,
        name: str,
        args: EcrReplicationArgs,
        registry_id: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("slipway:aws:EcrReplication", name, {}, opts)
        aws = cloud_sdk("aws")
        rule: dict = {
            "destinations": [
                {"region": r, "registry_id": registry_id} for r in args.destination_regions
            ]
        }
        if args.repository_prefix:
            rule["repository_filters"] = [
                {"filter": args.repository_prefix, "filter_type": "PREFIX_MATCH"}
            ]
        aws.ecr.ReplicationConfiguration(
            f"{name}-config",
            replication_configuration={"rules": [rule]},
            region=args.source_region,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({})


class ArtifactRegistryArgs(BaseModel):
    """Inputs of `ArtifactRegistry` (one GCP region)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    project: str = Field(min_length=1)
    """GCP project id."""
    region: str = Field(min_length=1)
    """Repository location."""
    repository_id: str = Field(
        default="services", pattern=r"^[a-z]([a-z0-9-]*[a-z0-9])?$", max_length=63
    )
    """Repository id; images are `<region>-docker.pkg.dev/<project>/<id>/<service>`."""
    tags: dict[str, str]
    """Labels; must include `team` and `cost-center`."""
    keep_versions: int = Field(default=200, ge=1, le=10000)
    """Most recent versions kept per image; default: 200."""
    untagged_expiry_days: int = Field(default=14, ge=1, le=3650)
    """Untagged versions are deleted after this many days; default: 14."""
    protect: bool = False
    """Protect the repository, its key ring and key from deletion (prod)."""
    manage_project_services: bool = True
    """Enable the APIs the repository uses (never disabled on destroy) and create the Artifact
    Registry service agent; default: true. False when the project's APIs are managed elsewhere
    (the deployer then needs no Service Usage admin)."""

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: dict[str, str]) -> dict[str, str]:
        check_tags(v)
        return dict(sorted(v.items()))


class ArtifactRegistry(pulumi.ComponentResource):
    """A Docker repository in Artifact Registry with CMEK, immutable tags and cleanup rules.

    The KMS key ring and key are auto-named after the component (e.g. `<name>-keyring-` and 7
    random hex digits): neither can be deleted, so a recreated stack gets new ones. The name
    is therefore at most 47 characters of `a-z A-Z 0-9 _ -`."""

    url: pulumi.Output[str]
    """Repository URL prefix; append `/<service>` for an image."""
    apis: dict[str, pulumi.Resource]
    """The `gcp.projects.Service`s enabled here, by API name (empty when
    `manage_project_services` is false)."""
    service_agent: pulumi.Resource | None
    """The Artifact Registry service agent (`gcp.projects.ServiceIdentity`), created before it
    is granted the key (None when `manage_project_services` is false)."""

    def __init__(
        self, name: str, args: ArtifactRegistryArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        check_kms_names(name, "keyring", "key")
        super().__init__("slipway:gcp:ArtifactRegistry", name, {}, opts)
        gcp = cloud_sdk("gcp")
        labels = gcp_labels(args.tags)
        registry_api, kms_api = ARTIFACT_REGISTRY_APIS

        # A fresh project has neither API enabled.
        self.apis = {}
        if args.manage_project_services:
            for api in ARTIFACT_REGISTRY_APIS:
                self.apis[api] = gcp.projects.Service(
                    f"{name}-api-{api.split('.')[0]}",
                    project=args.project,
                    service=api,
                    # The project's clusters may still use it.
                    disable_on_destroy=False,
                    opts=pulumi.ResourceOptions(parent=self),
                )

        def needs(
            *apis: str, protect: bool = False, also: list[pulumi.Resource] | None = None
        ) -> pulumi.ResourceOptions:
            """Options of a child that may only be created once `apis` are enabled."""
            waits = [self.apis[a] for a in apis if a in self.apis] + list(also or [])
            return pulumi.ResourceOptions(parent=self, protect=protect, depends_on=waits)

        # Auto-named: neither can ever be deleted, so a recreated stack needs new ones.
        key_ring = gcp.kms.KeyRing(
            f"{name}-keyring",
            project=args.project,
            location=args.region,
            opts=needs(kms_api, protect=args.protect).merge(KEEP_KMS_NAME),
        )
        key = gcp.kms.CryptoKey(
            f"{name}-key",
            key_ring=key_ring.id,
            purpose="ENCRYPT_DECRYPT",
            rotation_period="7776000s",  # 90 days
            labels=labels,
            opts=needs(kms_api, protect=args.protect).merge(KEEP_KMS_NAME),
        )
        # Google creates the Artifact Registry agent only when first needed: granting it the
        # key before then fails on a fresh project.
        self.service_agent = None
        if args.manage_project_services:
            self.service_agent = gcp.projects.ServiceIdentity(
                f"{name}-registry-agent",
                project=args.project,
                service=registry_api,
                opts=needs(registry_api),
            )
        number = gcp.organizations.get_project_output(
            project_id=args.project, opts=pulumi.InvokeOutputOptions(parent=self)
        ).number
        grant = gcp.kms.CryptoKeyIAMMember(
            f"{name}-key-registry",
            crypto_key_id=key.id,
            role="roles/cloudkms.cryptoKeyEncrypterDecrypter",
            member=number.apply(
                lambda n: f"serviceAccount:service-{n}@gcp-sa-artifactregistry.{_SA_DOMAIN}"
            ),
            opts=needs(kms_api, also=[self.service_agent] if self.service_agent else []),
        )
        repo = gcp.artifactregistry.Repository(
            f"{name}-repo",
            project=args.project,
            location=args.region,
            repository_id=args.repository_id,
            format="DOCKER",
            description="Service images",
            kms_key_name=key.id,
            docker_config={"immutable_tags": True},
            cleanup_policy_dry_run=False,
            cleanup_policies=[
                {
                    "id": "delete-untagged",
                    "action": "DELETE",
                    "condition": {
                        "tag_state": "UNTAGGED",
                        "older_than": f"{args.untagged_expiry_days * 86400}s",
                    },
                },
                {
                    "id": "keep-recent",
                    "action": "KEEP",
                    "most_recent_versions": {"keep_count": args.keep_versions},
                },
            ],
            labels=labels,
            opts=needs(registry_api, protect=args.protect, also=[grant]),
        )
        self.url = repo.repository_id.apply(
            lambda rid: f"{args.region}-docker.pkg.dev/{args.project}/{rid}"
        )
        self.register_outputs({"url": self.url})
