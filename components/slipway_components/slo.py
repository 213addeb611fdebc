"""Service level objectives: the catalog's `slo:` block.

Kept apart from the observability component (plain pydantic, no Pulumi) so the catalog and
the CLI's declared-state commands can load it without importing the Pulumi SDK.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from slipway_components.naming import check_dns_label

PROM_METRIC = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
PROM_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
PROM_DURATION = re.compile(r"^[0-9]+(ms|s|m|h|d)$")


class CamelArgs(BaseModel):
    """camelCase accepted (catalog YAML), snake_case in code; unknown keys rejected."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


class SloArgs(CamelArgs):
    """A service's service-level objectives and where its metrics come from (catalog `slo:`)."""

    availability_target: float = Field(default=99.9, gt=50, lt=100)
    """Percent of requests that must succeed over the SLO window; default: 99.9."""
    latency_p99_ms: int = Field(default=300, ge=1, le=600_000)
    """p99 request duration objective in milliseconds; default: 300."""
    window_days: int = Field(default=30, ge=1, le=90)
    """SLO window the error budget is spread over; default: 30 (the burn rates assume it)."""
    metrics_port: str = "http"
    """Name of the Service port that serves metrics; default: http."""
    metrics_path: str = "/metrics"
    """HTTP path of the metrics endpoint; default: /metrics."""
    scrape_interval: str = "30s"
    """Prometheus scrape interval; default: 30s."""
    requests_metric: str = "http_requests_total"
    """Counter of handled requests, labelled with the status code; default: http_requests_total."""
    duration_metric: str = "http_request_duration_seconds"
    """Request-duration histogram, without `_bucket`; default: http_request_duration_seconds."""
    status_label: str = "code"
    """Label of `requests_metric` holding the HTTP status; default: code."""
    error_status_regex: str = "5.."
    """Status values that count against the budget; default: 5.. (server errors)."""

    @field_validator("metrics_port")
    @classmethod
    def _port(cls, v: str) -> str:
        return check_dns_label(v, max_len=15)

    @field_validator("metrics_path")
    @classmethod
    def _path(cls, v: str) -> str:
        if not v.startswith("/") or any(c in v for c in " \"'\\"):
            raise ValueError(f"{v!r} is not an HTTP path; expected e.g. /metrics")
        return v

    @field_validator("scrape_interval")
    @classmethod
    def _interval(cls, v: str) -> str:
        if not PROM_DURATION.match(v):
            raise ValueError(f"{v!r} is not a Prometheus duration like 30s or 1m")
        return v

    @field_validator("requests_metric", "duration_metric")
    @classmethod
    def _metric(cls, v: str) -> str:
        if not PROM_METRIC.match(v):
            raise ValueError(f"{v!r} is not a Prometheus metric name")
        return v

    @field_validator("status_label")
    @classmethod
    def _label(cls, v: str) -> str:
        if not PROM_LABEL.match(v):
            raise ValueError(f"{v!r} is not a Prometheus label name")
        return v

    @field_validator("error_status_regex")
    @classmethod
    def _regex(cls, v: str) -> str:
        if not v or '"' in v or "\\" in v:
            raise ValueError(f"{v!r}: give a plain regex without quotes or backslashes, e.g. 5..")
        try:
            re.compile(v)
        except re.error as exc:
            raise ValueError(f"{v!r} is not a regular expression: {exc}") from None
        return v

    @property
    def error_budget(self) -> float:
        """Fraction of requests allowed to fail (0.001 for 99.9%)."""
        return round(1 - self.availability_target / 100, 10)
