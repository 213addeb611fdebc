"""How a new version reaches users: the strategy args every Microservice takes.

Flat, typed, validated when built, so a component used from another team's program refuses
nonsense (a canary weight without a canary track, a pause step with a weight) before any
resource exists. Defaults are the safe ones: rolling; blue-green keeps the idle slot warm;
a canary starts at weight 0; Argo Rollouts never promotes blue-green without a person or an
analysis saying so.
"""

from __future__ import annotations

import re
from typing import Literal, get_args
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from slipway_components.naming import check_dns_label
from slipway_components.podspec import Args, ImageInput, InputStr

SLOTS = ("blue", "green")
"""Blue-green slot names; also the values of the pods' `slot` label."""


class TrackArgs(Args):
    """One slot's or track's build. Unset fields fall back to the service's own.

    The image is checked when the args are built (a plain `latest` fails here, at
    `strategy.<slot>.image`, before any object exists), or when an Output image resolves."""

    image: ImageInput | None = None
    """Full image reference (Input) with a tag other than latest and/or a digest; default:
    the service image."""
    version_label: InputStr | None = None
    """`app.kubernetes.io/version` of its pods (Input); default: the image tag."""
    config: dict[str, InputStr] = Field(default_factory=dict)
    """Settings (Input values) merged over the service config for this slot or track only."""


HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
"""An HTTP header name (RFC 9110 token)."""
COOKIE_NAME = HEADER_NAME
"""A cookie name (RFC 6265: a token)."""
COOKIE_VALUE = re.compile(r"^[A-Za-z0-9!#$%&'()*+./:<=>?@\[\]^_`{|}~-]+$")
"""A cookie value (RFC 6265 cookie-octets, no quotes, commas, semicolons or spaces)."""
PATH_PREFIX = re.compile(r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$")


class HeaderRouteArgs(Args):
    """An A/B route (Argo Rollouts `setHeaderRoute`): requests carrying a header, or a cookie,
    go to the new version whatever the weight. Exactly one of `header` and `cookie`."""

    name: str
    """Route name (DNS-1123 label); Argo lists it under `trafficRouting.managedRoutes`."""
    header: str | None = None
    """Header to match, e.g. `X-Canary`; default: None (match a cookie)."""
    cookie: str | None = None
    """Cookie to match (a regex on the `Cookie` header); default: None (match a header)."""
    value: str
    """Header value (exact match) or cookie value."""

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_dns_label(v, max_len=40)

    @field_validator("header", "cookie")
    @classmethod
    def _token(cls, v: str | None) -> str | None:
        if v is not None and not HEADER_NAME.fullmatch(v):
            raise ValueError(f"{v!r} is not a header or cookie name (an RFC 9110 token)")
        return v

    @model_validator(mode="after")
    def _one(self) -> HeaderRouteArgs:
        if (self.header is None) == (self.cookie is None):
            raise ValueError("a header route matches exactly one of header or cookie")
        if self.header is not None and self.header.lower() == "cookie":
            raise ValueError("match a cookie with `cookie: <name>`, not `header: Cookie`")
        if not self.value or (self.cookie is not None and not COOKIE_VALUE.fullmatch(self.value)):
            raise ValueError(
                f"cookie value {self.value!r} must be non-empty cookie-octets (no spaces, "
                "quotes, commas, semicolons or backslashes)"
                if self.cookie is not None
                else "a header route needs a non-empty value"
            )
        return self

    def render(self) -> dict:
        if self.header is not None:
            name, match = self.header, {"exact": self.value}
        else:
            # `Cookie: a=1; <cookie>=<value>; b=2`: the pair at the start or after "; ".
            pair = re.escape(f"{self.cookie}={self.value}")
            name, match = "Cookie", {"regex": f"^(.*; )?{pair}(;.*)?$"}
        return {"name": self.name, "match": [{"headerName": name, "headerValue": match}]}


class MirrorRouteArgs(Args):
    """Traffic mirroring (Argo Rollouts `setMirrorRoute`, Istio only): a copy of matching
    requests goes to the new version, whose responses are dropped."""

    name: str
    """Route name (DNS-1123 label); Argo lists it under `trafficRouting.managedRoutes`."""
    percentage: int = Field(default=100, ge=1, le=100)
    """Percent of matching requests copied; default: 100."""
    method: Literal["GET", "HEAD", "OPTIONS"] = "GET"
    """Only requests of this method are mirrored: a mirrored POST would run its side effects
    twice, so only safe methods are allowed; default: GET."""
    path_prefix: str = "/"
    """Only requests under this path are mirrored; default: `/`."""

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return check_dns_label(v, max_len=40)

    @field_validator("path_prefix")
    @classmethod
    def _path(cls, v: str) -> str:
        if not PATH_PREFIX.fullmatch(v):
            raise ValueError(f"path_prefix {v!r} must be an absolute URL path such as /api")
        return v

    def render(self) -> dict:
        return {
            "name": self.name,
            "percentage": self.percentage,
            "match": [{"method": {"exact": self.method}, "path": {"prefix": self.path_prefix}}],
        }


class StepArgs(Args):
    """One Argo Rollouts canary step: a weight, a pause (timed, or until promoted: a manual
    approval), a header route (A/B test) or a mirror route."""

    set_weight: int | None = Field(default=None, ge=0, le=100)
    """Percent of traffic the new version gets from this step on; default: None (a pause)."""
    pause: bool = False
    """True: wait here; with `pause_seconds` unset, until someone promotes."""
    pause_seconds: int | None = Field(default=None, ge=1, le=86400)
    """Length of a timed pause, in seconds (setting it makes the step a pause); default: None,
    wait until promoted."""
    set_header_route: HeaderRouteArgs | None = None
    """From this step on, requests with the header or cookie go to the new version."""
    set_mirror_route: MirrorRouteArgs | None = None
    """From this step on, a copy of matching requests goes to the new version (Istio)."""
    set_canary_replicas: int | None = Field(default=None, ge=1, le=1000)
    """Run this many new-version pods whatever the weight (`setCanaryScale`), so a header or
    mirror route has pods to reach before any weight is set; the next `set_weight` step
    makes the pod count follow the weight again."""

    @model_validator(mode="after")
    def _one(self) -> StepArgs:
        if self.pause_seconds is not None and not self.pause:
            object.__setattr__(self, "pause", True)
        kinds = [
            self.set_weight is not None,
            self.pause,
            self.set_header_route is not None,
            self.set_mirror_route is not None,
            self.set_canary_replicas is not None,
        ]
        if sum(kinds) != 1:
            raise ValueError(
                "a step is either set_weight, a pause, set_header_route, set_mirror_route or "
                "set_canary_replicas, exactly one of them"
            )
        return self

    @property
    def route_name(self) -> str | None:
        """The managed route this step sets, if any."""
        route = self.set_header_route or self.set_mirror_route
        return route.name if route is not None else None

    def render(self) -> dict:
        if self.set_weight is not None:
            return {"setWeight": self.set_weight}
        if self.set_header_route is not None:
            return {"setHeaderRoute": self.set_header_route.render()}
        if self.set_mirror_route is not None:
            return {"setMirrorRoute": self.set_mirror_route.render()}
        if self.set_canary_replicas is not None:
            return {"setCanaryScale": {"replicas": self.set_canary_replicas}}
        return {"pause": {"duration": f"{self.pause_seconds}s"} if self.pause_seconds else {}}


DEFAULT_STEPS = (
    StepArgs(set_weight=10),
    StepArgs(pause=True, pause_seconds=300),
    StepArgs(set_weight=25),
    StepArgs(pause=True, pause_seconds=300),
    StepArgs(set_weight=50),
    StepArgs(pause=True, pause_seconds=600),
)
"""10% → 25% → 50% with five to ten minutes of background analysis between; then 100%."""


class AnalysisArgs(Args):
    """Prometheus analysis that decides, without a person, whether a version is healthy."""

    prometheus_address: str = "http://prometheus-operated.monitoring.svc.cluster.local:9090"
    """Prometheus the analysis queries; default: the Prometheus Operator's in-cluster service."""
    success_rate_min: float = Field(default=0.99, gt=0, le=1)
    """Lowest acceptable share of non-5xx responses; default: 0.99."""
    latency_p99_max_seconds: float = Field(default=0.5, gt=0, le=60)
    """Highest acceptable p99 request duration; default: 0.5 s."""
    interval_seconds: int = Field(default=60, ge=10, le=3600)
    """Time between measurements; default: 60."""
    failure_limit: int = Field(default=2, ge=0, le=100)
    """Failed measurements tolerated before the rollout aborts and rolls back; default: 2."""
    count: int = Field(default=5, ge=1, le=1000)
    """Measurements of a blue-green post-promotion analysis, at least `failure_limit` and
    `inconclusive_limit` (a canary's background analysis runs until done)."""
    requests_metric: str = "http_requests_total"
    """Request counter with a `code` label; default: http_requests_total."""
    duration_metric: str = "http_request_duration_seconds"
    """Request-duration histogram without `_bucket`; default: http_request_duration_seconds."""
    min_requests: int = Field(default=20, ge=1, le=1_000_000)
    """Requests the new version must have served in a measurement's window for the
    measurement to count; with fewer (a quiet canary, a slot without traffic) it is
    inconclusive, which pauses the rollout instead of aborting it; default: 20."""
    inconclusive_limit: int = Field(default=2, ge=0, le=100)
    """Inconclusive measurements (too few requests) tolerated before the analysis is
    inconclusive and the rollout pauses for a person to look; Argo counts them over the
    whole analysis run, not in a row, so a long canary needs a higher limit; default: 2."""

    @property
    def duration_seconds(self) -> int:
        """How long a bounded analysis (`count` measurements) runs."""
        return self.interval_seconds * self.count


CLUSTER_LOCAL = (".svc", ".svc.cluster.local")
"""Host suffixes of in-cluster Services, the only hosts a check may call over plain http."""


def check_hook_url(v: str) -> str:
    """A pre-rollout check's URL: https, or http to an in-cluster Service; no credentials."""
    try:
        parts = urlsplit(v)
        host = parts.hostname or ""
    except ValueError as exc:
        raise ValueError(f"{v!r} is not a URL: {exc}") from None
    if parts.scheme not in ("https", "http") or not host:
        raise ValueError(f"{v!r} is not an http(s) URL with a host")
    if parts.username or parts.password:
        raise ValueError(
            f"URL {parts.scheme}://{host}... carries credentials; put them in a header from a "
            "secret instead"
        )
    if parts.scheme == "http" and not host.endswith(CLUSTER_LOCAL):
        raise ValueError(
            f"{v!r}: plain http is allowed only to an in-cluster Service "
            "(<svc>.<namespace>.svc[.cluster.local]); use https"
        )
    return v


class PreRolloutArgs(Args):
    """A check Argo Rollouts runs before the new version takes traffic: a webhook or a load
    test answering JSON (Argo's `web` metric provider). blue-green: the pre-promotion
    analysis, on the preview; canary: an analysis step before the first step."""

    url: str
    """Endpoint called once per measurement; https, or http to an in-cluster Service. May use
    `{{args.service-name}}` and `{{args.namespace}}`."""
    method: Literal["GET", "POST"] = "GET"
    """HTTP method; default: GET."""
    json_path: str = "{$.ok}"
    """Where in the JSON answer the verdict is (Argo's `jsonPath`); default: `{$.ok}`."""
    success_condition: str = "result == true"
    """Argo expression over the verdict; default: `result == true`."""
    timeout_seconds: int = Field(default=60, ge=1, le=600)
    """Per-call timeout; default: 60 (a load test takes a while)."""
    count: int = Field(default=1, ge=1, le=100)
    """Calls made; all must pass; default: 1."""
    interval_seconds: int = Field(default=30, ge=1, le=3600)
    """Time between calls (with count > 1); default: 30."""

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return check_hook_url(v)

    @field_validator("json_path")
    @classmethod
    def _json_path(cls, v: str) -> str:
        if not (v.startswith("{$") and v.endswith("}")):
            raise ValueError(f"json_path {v!r} must look like {{$.field}} (Argo's jsonPath)")
        return v


Trigger = Literal[
    "on-rollout-completed",
    "on-rollout-aborted",
    "on-rollout-paused",
    "on-rollout-updated",
    "on-rollout-step-completed",
    "on-analysis-run-failed",
    "on-analysis-run-error",
]
"""Argo Rollouts' built-in notification triggers (docs/features/notifications.md)."""
NOTIFICATION_TRIGGERS: tuple[str, ...] = get_args(Trigger)


class NotificationsArgs(Args):
    """Argo Rollouts notifications for this Rollout: subscription annotations naming a
    notifier service of the argo-rollouts-notification-configmap (the platform's
    `rollouts_webhook_url` add-on setting configures a webhook service `slipway`)."""

    service: str = "slipway"
    """Notifier service (`service.webhook.<name>` in the ConfigMap); default: slipway."""
    recipient: str = ""
    """Recipient for services that need one (a Slack channel); a webhook needs none."""
    triggers: tuple[Trigger, ...] = (
        "on-rollout-completed",
        "on-rollout-aborted",
        "on-rollout-paused",
    )
    """Triggers subscribed: promoted (`on-rollout-completed`), aborted and rolled back
    (`on-rollout-aborted`), waiting for approval (`on-rollout-paused`); default: those three."""

    @field_validator("service")
    @classmethod
    def _service(cls, v: str) -> str:
        return check_dns_label(v)

    @field_validator("triggers")
    @classmethod
    def _triggers(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v:
            raise ValueError("triggers is empty; name at least one")
        return tuple(dict.fromkeys(v))

    def annotations(self) -> dict[str, str]:
        return {
            f"notifications.argoproj.io/subscribe.{t}.{self.service}": self.recipient
            for t in self.triggers
        }


def canary_capacity(weight: int, canary_replicas: int, stable_replicas: int) -> int:
    """Pods a canary at `weight` percent needs: `ceil(weight% x stable_replicas)`, at least
    `canary_replicas`."""
    return max(canary_replicas, -(-weight * stable_replicas // 100))


class StrategyArgs(Args):
    """Which strategy and its knobs. Fields of other strategies are ignored, so a per-env
    override can switch `type` without deleting the rest."""

    type: Literal["rolling", "blue-green", "canary"] = "rolling"
    """Workload shape: `rolling` replaces pods in place, `blue-green` keeps two slots and flips
    the live Service, `canary` splits traffic by weight; default: rolling."""
    engine: Literal["native", "argo-rollouts"] = "native"
    """`native`: Pulumi owns every object and each traffic change is a declared value;
    `argo-rollouts`: a Rollout steps and analyses in-cluster, rolling back by itself."""
    active_slot: Literal["blue", "green"] = "blue"
    """blue-green (native): the slot the live Service selects; the other is the preview."""
    blue: TrackArgs = TrackArgs()
    """blue-green: the blue slot's build; default: the service's own."""
    green: TrackArgs = TrackArgs()
    """blue-green: the green slot's build; default: the service's own."""
    idle_replicas: int | None = Field(default=None, ge=0, le=1000)
    """blue-green (native): pods of the idle slot; default: None, as many as the active one
    (warm, so a promote or a rollback is instant)."""
    canary: TrackArgs | None = None
    """canary (native): the canary track's build; default: none (no canary pods)."""
    weight: int = Field(default=0, ge=0, le=100)
    """canary (native): percent of requests the canary track gets; default: 0."""
    canary_replicas: int = Field(default=2, ge=1, le=1000)
    """canary (native): fewest pods of the canary track; it runs more when its weight's share
    of the stable track's pods is larger (see `canary_capacity`); default: 2."""
    steps: tuple[StepArgs, ...] = DEFAULT_STEPS
    """canary (argo-rollouts): the step plan."""
    analysis: AnalysisArgs = AnalysisArgs()
    """argo-rollouts: Prometheus thresholds."""
    auto_promotion: bool = False
    """blue-green (argo-rollouts): promote once pre-promotion analysis passes; default: False
    (a person promotes)."""
    scale_down_delay_seconds: int | None = Field(default=None, ge=0, le=86400)
    """argo-rollouts: how long the old version stays up (warm, for an instant rollback) after
    the new one takes all traffic; blue-green: longer than the post-promotion analysis, whose
    failure switches back to it; default: None, the analysis's duration plus 60 s (blue-green)
    or 300 s (canary)."""
    pre_rollout: PreRolloutArgs | None = None
    """argo-rollouts: a webhook or load test that must pass before the new version takes
    traffic; default: none."""
    notifications: NotificationsArgs | None = None
    """argo-rollouts: notify a webhook on promote, abort and pause; default: none."""
    live_replicas: int | None = Field(default=None, ge=1, le=1000)
    """native blue-green and canary: pods the serving track ran (blue-green: the slot live
    before the promote; canary: the stable track) when the traffic change was declared;
    `slipway promote` and `slipway canary` read it from the cluster. Blue-green holds both
    slots at least this size, so the switch waits for a full slot and a rollback finds the old
    one warm; a canary is sized to its weight's share of it. Default: None (nothing held)."""

    @model_validator(mode="after")
    def _coherent(self) -> StrategyArgs:
        if self.weight and (self.type != "canary" or self.engine != "native"):
            raise ValueError(
                f"weight {self.weight} applies to a native canary only "
                f"(type {self.type!r}, engine {self.engine!r}); Argo Rollouts sets weights "
                "from steps"
            )
        if self.weight and self.canary is None:
            raise ValueError(f"weight {self.weight} needs a canary track to send traffic to")
        if self.type == "canary" and self.engine == "argo-rollouts" and not self.steps:
            raise ValueError("an argo-rollouts canary needs at least one step")
        if self.engine == "argo-rollouts" and self.type == "rolling":
            raise ValueError(
                "engine argo-rollouts needs type blue-green or canary (rolling is a Deployment)"
            )
        if (
            self.type == "blue-green"
            and self.engine == "argo-rollouts"
            and self.scale_down_delay_seconds is not None
            and self.scale_down_delay_seconds <= self.analysis.duration_seconds
        ):
            raise ValueError(
                f"scale_down_delay_seconds {self.scale_down_delay_seconds} must exceed the "
                f"post-promotion analysis ({self.analysis.interval_seconds} s x "
                f"{self.analysis.count} = {self.analysis.duration_seconds} s): a failed "
                "analysis switches back to the old version, which must still be running; "
                "leave it unset to derive it"
            )
        if self.type == "blue-green" and self.engine == "argo-rollouts":
            # The post-promotion analysis is bounded (`count`): argo-rollouts'
            # utils/analysis/factory.go ValidateMetric refuses a metric whose count is below
            # its failureLimit or its inconclusiveLimit, and the Rollout then never analyses.
            an = self.analysis
            if an.count < max(an.failure_limit, an.inconclusive_limit):
                raise ValueError(
                    f"analysis count {an.count} must be at least failure_limit "
                    f"({an.failure_limit}) and inconclusive_limit ({an.inconclusive_limit}): "
                    "Argo Rollouts refuses a bounded metric with fewer measurements than "
                    "its limits"
                )
        has_pods = False
        for i, s in enumerate(self.steps):
            has_pods = has_pods or bool(s.set_weight) or s.set_canary_replicas is not None
            if s.route_name is not None and not has_pods and self.type == "canary":
                raise ValueError(
                    f"step {i} sets route {s.route_name!r} before the new version has pods: "
                    "put a set_weight above 0 or a set_canary_replicas step before it"
                )
        kinds: dict[str, str] = {}
        for s in self.steps:
            if s.route_name is not None:
                kind = "header" if s.set_header_route is not None else "mirror"
                if kinds.setdefault(s.route_name, kind) != kind:
                    raise ValueError(
                        f"route name {s.route_name!r} is used by a header and a mirror route; "
                        "give each its own name"
                    )
        return self

    def rendered_steps(self) -> list[dict]:
        """The Argo steps: after a `set_canary_replicas`, the next weight step is preceded by
        `setCanaryScale: {matchTrafficWeight: true}`, so the pods follow the weight again
        instead of staying at the fixed count while the weight grows."""
        out: list[dict] = []
        fixed = False
        for s in self.steps:
            if s.set_canary_replicas is not None:
                fixed = True
            elif s.set_weight is not None and fixed:
                out.append({"setCanaryScale": {"matchTrafficWeight": True}})
                fixed = False
            out.append(s.render())
        return out

    @property
    def managed_routes(self) -> list[str]:
        """Names of the header and mirror routes the steps set, in order of first use."""
        return list(dict.fromkeys(s.route_name for s in self.steps if s.route_name))

    @property
    def scale_down_delay(self) -> int:
        """`scaleDownDelaySeconds` as rendered (see `scale_down_delay_seconds`)."""
        if self.scale_down_delay_seconds is not None:
            return self.scale_down_delay_seconds
        if self.type == "blue-green":
            return self.analysis.duration_seconds + 60
        return 300

    def canary_capacity(self, stable_replicas: int) -> int:
        """Pods the canary track needs for its weight: its share of `stable_replicas` (the
        stable track's pods, `live_replicas` when known), rounded up, never fewer than
        `canary_replicas`. At weight 100 that is the stable track's whole size."""
        return canary_capacity(self.weight, self.canary_replicas, stable_replicas)

    def track(self, slot: str) -> TrackArgs:
        """The build of a slot (`blue`, `green`) or of the canary track."""
        if slot == "canary":
            return self.canary or TrackArgs()
        return self.blue if slot == "blue" else self.green

    @property
    def idle_slot(self) -> str:
        return "green" if self.active_slot == "blue" else "blue"
