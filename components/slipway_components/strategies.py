"""How a new version reaches users: the strategy args every Microservice takes.

Flat, typed, validated when built, so a component used from another team's program refuses
nonsense (a canary weight without a canary track, a pause step with a weight) before any
resource exists. Defaults are the safe ones: rolling; blue-green keeps the idle slot warm;
a canary starts at weight 0; Argo Rollouts never promotes blue-green without a person or an
analysis saying so.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

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


class StepArgs(Args):
    """One Argo Rollouts canary step: a weight, or a pause (timed, or until promoted)."""

    set_weight: int | None = Field(default=None, ge=0, le=100)
    """Percent of traffic the new version gets from this step on; default: None (a pause)."""
    pause: bool = False
    """True: wait here; with `pause_seconds` unset, until someone promotes."""
    pause_seconds: int | None = Field(default=None, ge=1, le=86400)
    """Length of a timed pause, in seconds (setting it makes the step a pause); default: None,
    wait until promoted."""

    @model_validator(mode="after")
    def _one(self) -> StepArgs:
        if self.pause_seconds is not None and not self.pause:
            object.__setattr__(self, "pause", True)
        if (self.set_weight is None) == (not self.pause):
            raise ValueError("a step is either set_weight or a pause, exactly one of them")
        return self

    def render(self) -> dict:
        if self.set_weight is not None:
            return {"setWeight": self.set_weight}
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
    """Measurements of a pre-promotion analysis (background analysis runs until done)."""
    requests_metric: str = "http_requests_total"
    """Request counter with a `code` label; default: http_requests_total."""
    duration_metric: str = "http_request_duration_seconds"
    """Request-duration histogram without `_bucket`; default: http_request_duration_seconds."""


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
    scale_down_delay_seconds: int = Field(default=30, ge=0, le=86400)
    """blue-green (argo-rollouts): how long the old slot stays up after a promote."""
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
        return self

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
