"""An ECR repository, declared without pulumi-aws (the team's program needs no cloud SDK for
its tests): the same type token, inputs and `repositoryUrl` output the AWS provider has."""

from __future__ import annotations

import re

import pulumi

TYPE = "aws:ecr/repository:Repository"


class Repository(pulumi.CustomResource):
    """An immutable-tag, scan-on-push, KMS-encrypted image repository."""

    repository_url: pulumi.Output[str]
    """`<account>.dkr.ecr.<region>.amazonaws.com/<name>`, known once the repository exists."""
    arn: pulumi.Output[str]

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(
            TYPE,
            name,
            {
                "name": name,
                "image_tag_mutability": "IMMUTABLE",
                "image_scanning_configuration": {"scan_on_push": True},
                "encryption_configurations": [{"encryption_type": "KMS"}],
                "repository_url": None,
                "arn": None,
            },
            opts,
        )

    def translate_input_property(self, prop: str) -> str:
        """Python's snake_case names as the provider's camelCase ones."""
        head, *rest = prop.split("_")
        return head + "".join(part.title() for part in rest)

    def translate_output_property(self, prop: str) -> str:
        """The provider's camelCase names back as this class's attributes."""
        return re.sub(r"(?<!^)(?=[A-Z])", "_", prop).lower()
