"""GlobalTraffic: Route53 records that spread each public service over every target.

Each target's entry point gets one health check; each public service gets one record per
target, all sharing the service's name and told apart by `set_identifier`. With `latency`
routing (the default) a client is sent to the closest healthy target, and a target failing its
health check drops out: that is the failover policy. `weighted` splits by the targets' weights;
`failover` sends everything to the first target and to the second only when the first is
unhealthy. Evacuating a target removes its records and nothing else — its health check stays,
so putting it back is as quick as taking it out.
"""

from __future__ import annotations

import re
from typing import Any, Literal

import pulumi
import pulumi_aws as aws
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from slipway_components.cloud_common import check_tags

_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


class DnsEndpoint(BaseModel):
    """One target's entry point as DNS sees it."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    target: str
    """Target name; the record's `set_identifier` and the health check's name."""
    addresses: Any
    """Public IPv4 addresses of the entry point: a list (Outputs allowed), or one Output of
    a list, as another stack's outputs give it."""
    latency_region: str
    """AWS region Route53 measures latency against (for GCP: the nearest AWS region)."""
    weight: int = Field(default=100, ge=0, le=255)
    """Share of traffic with `weighted` routing; default: 100."""
    evacuated: bool = False
    """True removes the target's records; its health check stays."""

    @field_validator("addresses")
    @classmethod
    def _addresses(cls, v: Any) -> Any:
        if isinstance(v, pulumi.Output):
            return v
        if not isinstance(v, list) or not v:
            raise ValueError("addresses: give at least one address (or an Output of a list)")
        return v

    @field_validator("target")
    @classmethod
    def _target(cls, v: str) -> str:
        if not _LABEL.match(v) or len(v) > 63:
            raise ValueError(f"target {v!r} is not a DNS-1123 label")
        return v


class HealthCheckArgs(BaseModel):
    """How Route53 probes each target's entry point."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["TCP", "HTTPS", "HTTPS_STR_MATCH"] = "TCP"
    """Probe type; default: TCP (the entry point accepts connections on `port`)."""
    port: int = Field(default=443, ge=1, le=65535)
    """Probed port; default: 443."""
    path: str = "/healthz"
    """HTTPS probes: request path; default: /healthz."""
    host: str | None = None
    """HTTPS probes: Host header and SNI; default: none."""
    failure_threshold: int = Field(default=3, ge=1, le=10)
    """Consecutive failures that mark a target unhealthy; default: 3."""
    request_interval: Literal[10, 30] = 30
    """Seconds between probes; default: 30."""


class GlobalTrafficArgs(BaseModel):
    """Inputs of `GlobalTraffic`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    domain: str
    """Zone apex; records are `<service>.<domain>`."""
    zone_id: str | None = None
    """An existing hosted zone; default: a new zone for `domain` is created."""
    services: list[str]
    """Public services."""
    endpoints: list[DnsEndpoint] = Field(min_length=1)
    """Every target's entry point, in stack order."""
    routing: Literal["latency", "weighted", "failover"] = "latency"
    """Routing policy; default: latency (closest healthy target)."""
    health_check: HealthCheckArgs = Field(default_factory=HealthCheckArgs)
    """Probe settings; default: TCP 443 every 30 s, 3 failures."""
    ttl: int = Field(default=60, ge=5, le=86400)
    """Record TTL in seconds; short so failover takes effect fast; default: 60."""
    tags: dict[str, str]
    """Tags; must include `team` and `cost-center`."""
    protect: bool = False
    """Protect the hosted zone (prod)."""

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: dict[str, str]) -> dict[str, str]:
        return check_tags(v)

    @field_validator("services")
    @classmethod
    def _services(cls, v: list[str]) -> list[str]:
        bad = [s for s in v if not _LABEL.match(s)]
        if bad:
            raise ValueError(f"service names {bad} are not DNS labels")
        return sorted(set(v))

    @model_validator(mode="after")
    def _endpoints(self) -> GlobalTrafficArgs:
        names = [e.target for e in self.endpoints]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"endpoints repeat targets: {dupes}")
        if all(e.evacuated for e in self.endpoints):
            raise ValueError(
                f"every target is evacuated ({names}); keep at least one serving traffic"
            )
        if self.routing == "weighted" and not any(
            e.weight for e in self.endpoints if not e.evacuated
        ):
            raise ValueError("weighted routing with every serving target at weight 0")
        return self


class GlobalTraffic(pulumi.ComponentResource):
    """A hosted zone (or an existing one), per-target health checks and per-service records."""

    zone_id: pulumi.Output[str]
    """The hosted zone."""
    name_servers: pulumi.Output[list[str]] | None
    """Delegate the domain to these (only when the zone is created here)."""
    health_check_ids: dict[str, pulumi.Output[str]]
    """Target name -> its health check."""
    hostnames: dict[str, str]
    """Service -> its public host name."""

    def __init__(
        self, name: str, args: GlobalTrafficArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("slipway:dns:GlobalTraffic", name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.name_servers = None
        if args.zone_id:
            self.zone_id = pulumi.Output.from_input(args.zone_id)
        else:
            zone = aws.route53.Zone(
                f"{name}-zone",
                name=args.domain,
                comment=f"Public services of {args.domain}",
                force_destroy=False,
                tags=args.tags,
                opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
            )
            self.zone_id = zone.zone_id
            self.name_servers = zone.name_servers

        hc = args.health_check
        self.health_check_ids = {}
        for ep in args.endpoints:
            check: dict[str, Any] = {
                "type": hc.type,
                "ip_address": pulumi.Output.from_input(ep.addresses).apply(lambda a: a[0]),
                "port": hc.port,
                "failure_threshold": hc.failure_threshold,
                "request_interval": hc.request_interval,
                "measure_latency": True,
            }
            if hc.type != "TCP":
                check["resource_path"] = hc.path
                if hc.host:
                    check["fqdn"] = hc.host
                    check["enable_sni"] = True
            self.health_check_ids[ep.target] = aws.route53.HealthCheck(
                f"{name}-{ep.target}-health",
                reference_name=ep.target[:28],
                tags={**args.tags, "Name": f"{args.domain} via {ep.target}"},
                **check,
                opts=child,
            ).id

        serving = [e for e in args.endpoints if not e.evacuated]
        self.hostnames = {}
        for service in args.services:
            fqdn = f"{service}.{args.domain}"
            self.hostnames[service] = fqdn
            for i, ep in enumerate(serving):
                policy: dict[str, Any]
                if args.routing == "latency":
                    policy = {"latency_routing_policies": [{"region": ep.latency_region}]}
                elif args.routing == "weighted":
                    policy = {"weighted_routing_policies": [{"weight": ep.weight}]}
                else:
                    if i > 1:
                        break  # failover has exactly one primary and one secondary
                    role = "PRIMARY" if i == 0 else "SECONDARY"
                    policy = {"failover_routing_policies": [{"type": role}]}
                aws.route53.Record(
                    f"{name}-{service}-{ep.target}",
                    zone_id=self.zone_id,
                    name=fqdn,
                    type="A",
                    ttl=args.ttl,
                    records=ep.addresses,
                    set_identifier=ep.target,
                    health_check_id=self.health_check_ids[ep.target],
                    **policy,
                    opts=child,
                )
        self.register_outputs(
            {
                "zone_id": self.zone_id,
                "hostnames": self.hostnames,
                "name_servers": self.name_servers,
            }
        )
