"""Kubernetes naming rules, shared by components and the catalog."""

from __future__ import annotations

import re

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def check_dns_label(value: str, max_len: int = 63) -> str:
    """Validate a DNS-1123 label (what Kubernetes accepts as a name)."""
    if len(value) > max_len or not DNS_LABEL.match(value):
        raise ValueError(
            f"{value!r} is not a DNS-1123 label: lower-case letters, digits and '-', "
            f"starting and ending with a letter or digit, at most {max_len} characters"
        )
    return value


def check_image_ref(value: str) -> str:
    """An image reference must name one build: a tag other than `latest`, or a digest."""
    last = value.rsplit("/", 1)[-1]
    if "@" not in value and (":" not in last or last.endswith(":latest")):
        raise ValueError(f"image {value!r} must carry a tag other than latest, or a digest")
    return value
