"""The deploy gate (`slipway.gate`): the Rollout of the revision just applied, repeated SLO
measurements with a minimum of traffic and a multi-window burn rate, the live pods only,
the services a deploy changed, and each target through its own endpoints."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlparse

from slipway import gate as g
from slipway_components.slo import SloArgs


class Clock:
    """Time that passes only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class FakeKube:
    """kubectl: answers in turn (the last one repeats); records the calls."""

    def __init__(self, *answers: str, services: dict[str, dict] | None = None) -> None:
        self.answers = list(answers)
        self.services = services or {}
        self.calls: list[list[str]] = []

    def __call__(self, args: list[str]) -> str:
        self.calls.append(args)
        if "service" in args:
            return json.dumps(self.services[args[args.index("service") + 1]])
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


def rollout(
    phase: str,
    generation: int = 2,
    observed: int | None = 2,
    current: str = "new",
    stable: str = "new",
    **status,
) -> str:
    st = {"phase": phase, "currentPodHash": current, "stableRS": stable, **status}
    if observed is not None:
        st["observedGeneration"] = str(observed)  # Argo writes it as a string
    return json.dumps({"metadata": {"generation": generation}, "status": st})


ARGO = g.GateService("inventory", "commerce", "commerce", True, SloArgs(), target="aws-1")


def argo(kube: FakeKube, clock: Clock | None = None, timeout: float = 60, echo=None):
    clock = clock or Clock()
    return g.ArgoRolloutStatus(
        "ctx-aws-1",
        timeout,
        10,
        kubectl=kube,
        sleep=clock.sleep,
        clock=clock,
        echo=echo or (lambda _l: None),
    )


# ---- Argo Rollouts: the revision just applied (defect 3)


def test_argo_healthy_and_promoted_revision_passes_reading_its_target_context():
    kube = FakeKube(rollout("Healthy"))
    check = argo(kube).status(ARGO)
    assert check.ok, check.detail
    assert kube.calls[0][:2] == ["--context", "ctx-aws-1"]
    assert kube.calls[0][2:5] == ["get", "rollouts.argoproj.io", "inventory"]


def test_argo_paused_is_waiting_for_promotion_not_a_pass():
    """Main passed at the first `Paused`: the canary was still at its first step."""
    clock, said = Clock(), []
    check = argo(
        FakeKube(rollout("Paused", current="new", stable="old", message="CanaryPauseStep")),
        clock,
        timeout=60,
        echo=said.append,
    ).status(ARGO)
    assert not check.ok and check.inconclusive
    assert "waiting for promotion" in check.detail
    assert clock.now >= 60, "it waited until the deadline"
    assert any("waiting for promotion" in s and "deadline" in s for s in said)


def test_argo_paused_then_promoted_passes():
    kube = FakeKube(
        rollout("Paused", current="new", stable="old"),
        rollout("Progressing", current="new", stable="old"),
        rollout("Healthy", current="new", stable="new"),
    )
    check = argo(kube, timeout=600).status(ARGO)
    assert check.ok, check.detail
    assert len(kube.calls) == 3


def test_argo_healthy_phase_of_the_previous_revision_does_not_pass():
    """`Healthy` before the controller observed the new spec is the old revision's."""
    kube = FakeKube(
        rollout("Healthy", generation=3, observed=2, current="old", stable="old"),
        rollout("Healthy", generation=3, observed=None),
        rollout("Progressing", generation=3, observed=3, current="new", stable="old"),
        rollout("Healthy", generation=3, observed=3, current="new", stable="new"),
    )
    check = argo(kube, timeout=600).status(ARGO)
    assert check.ok
    assert len(kube.calls) == 4


def test_argo_healthy_but_not_yet_stable_is_not_a_pass():
    check = argo(FakeKube(rollout("Healthy", current="new", stable="old")), timeout=30)
    result = check.status(ARGO)
    assert not result.ok and "stable old" in result.detail


def test_argo_degraded_or_aborted_revision_fails_at_once():
    clock = Clock()
    check = argo(FakeKube(rollout("Degraded", message="RolloutAborted")), clock).status(ARGO)
    assert not check.ok and not check.inconclusive and "Degraded" in check.detail
    assert clock.now == 0
    aborted = argo(FakeKube(rollout("Degraded", stable="old", abort=True))).status(ARGO)
    assert not aborted.ok and "aborted" in aborted.detail


def test_an_earlier_revisions_abort_does_not_fail_a_deploy_that_left_the_rollout_alone():
    """Main failed every later gate once an abort had set `status.abort`."""
    earlier_abort = rollout("Degraded", current="bad", stable="good", abort=True)
    untouched = g.GateService(
        "inventory", "commerce", "commerce", True, SloArgs(), "aws-1", rollout_changed=False
    )
    check = argo(FakeKube(earlier_abort)).status(untouched)
    assert check.ok, check.detail
    assert "not changed by this deploy" in check.detail and "abort" in check.detail


def test_an_abort_from_before_this_deploy_does_not_fail_a_rollout_change_without_a_new_revision():
    """Argo clears `status.abort` on a new pod template; a change of the steps alone leaves
    an earlier abort set. Its `abortedAt` before the deploy started tells them apart."""
    from datetime import UTC, datetime

    status = g.ArgoRolloutStatus(
        kubectl=FakeKube(
            rollout(
                "Degraded",
                current="bad",
                stable="good",
                abort=True,
                abortedAt="2026-01-01T10:00:00Z",
            )
        ),
        started_at=datetime(2026, 1, 1, 12, 0, tzinfo=UTC),
    )
    check = status.status(ARGO)
    assert check.ok and "earlier revision's abort" in check.detail and "stable good" in check.detail
    now_aborted = g.ArgoRolloutStatus(
        kubectl=FakeKube(rollout("Degraded", abort=True, abortedAt="2026-01-01T12:05:00Z")),
        started_at=datetime(2026, 1, 1, 12, 0, tzinfo=UTC),
    )
    assert not now_aborted.status(ARGO).ok


def test_argo_progressing_past_the_timeout_fails():
    clock = Clock()
    check = argo(FakeKube(rollout("Progressing", stable="old")), clock, timeout=60).status(ARGO)
    assert not check.ok and "not healthy after 60s" in check.detail
    assert clock.now >= 60


def test_argo_unreadable_rollout_fails():
    def broken(args):
        raise RuntimeError('rollouts.argoproj.io "inventory" not found')

    check = g.ArgoRolloutStatus(kubectl=broken).status(ARGO)
    assert not check.ok and "not found" in check.detail


# ---- Prometheus: repeated measurements, minimum traffic, multi-window burn (defect 9)


class FakeProm:
    """Prometheus by query shape; each value may be a list consumed one per measurement."""

    def __init__(self, up=3, requests=1000, short=0.0, long=0.0, p99=0.1) -> None:
        self.values = {"up": up, "requests": requests, "short": short, "long": long, "p99": p99}
        self.queries: list[str] = []

    def _value(self, key):
        v = self.values[key]
        if isinstance(v, list):
            return v.pop(0) if len(v) > 1 else v[0]
        return v

    def __call__(self, promql: str):
        self.queries.append(promql)
        if promql.startswith("sum(up"):
            return self._value("up")
        if promql.startswith("sum(increase("):
            return self._value("requests")
        if promql.startswith("histogram_quantile"):
            return self._value("p99")
        return self._value("long" if "[1h]" in promql else "short")


SVC = g.GateService("orders", "commerce", "commerce", False, SloArgs(latency_p99_ms=200), "aws-1")
POLICY = g.SloPolicy(duration_seconds=300, interval_seconds=60, passes_needed=3)


def slo_gate(prom: FakeProm, kube: FakeKube | None = None, policy=POLICY, clock=None):
    clock = clock or Clock()
    kube = kube or FakeKube(rollout("Healthy"))
    return (
        g.SloGate(
            argo(kube, clock),
            g.PrometheusSlo("http://prom", policy, query=prom, kubectl=kube),
            sleep=clock.sleep,
            clock=clock,
        ),
        clock,
    )


def test_slo_gate_passes_after_repeated_good_measurements():
    prom = FakeProm()
    gate, clock = slo_gate(prom)
    result = gate.check([SVC])
    assert result.ok, result.checks
    assert sum(q.startswith("sum(up") for q in prom.queries) == 3, "three measurements"
    assert clock.now == 120, "a minute apart"


def test_no_traffic_waits_and_never_passes():
    """Main passed on "no requests in the last 5m"."""
    prom = FakeProm(requests=0, short=None, long=None, p99=None)
    gate, clock = slo_gate(prom)
    result = gate.check([SVC])
    assert not result.ok and result.inconclusive
    (check,) = result.checks
    assert "inconclusive" in check.detail and "fewer than the 100" in check.detail
    assert clock.now >= 240, "it kept measuring over the window"


def test_too_few_requests_is_not_judged_even_with_errors():
    """Two failed requests out of three is no evidence; main failed on any ratio > budget."""
    prom = FakeProm(requests=3, short=0.66, long=0.66)
    result, _ = slo_gate(prom)
    checks = result.check([SVC])
    assert checks.inconclusive


def test_traffic_arriving_later_passes():
    prom = FakeProm(requests=[0, 5, 500, 500, 500])
    result = slo_gate(prom)[0].check([SVC])
    assert result.ok, result.checks


def test_burn_rate_is_judged_on_both_windows():
    """A short spike (5m burning, 1h fine) is not a failure; both burning is."""
    budget = SloArgs().error_budget
    spike = FakeProm(short=20 * budget, long=2 * budget)
    assert slo_gate(spike)[0].check([SVC]).ok
    burning = FakeProm(short=20 * budget, long=15 * budget)
    result = slo_gate(burning)[0].check([SVC])
    assert not result.ok and not result.inconclusive
    assert "burn rate 20.0x over 5m, 15.0x over 1h" in result.checks[0].detail


def test_burn_rate_once_over_budget_is_no_longer_a_failure():
    """Main failed on a burn rate of 1 over 5 minutes (any ratio above the budget)."""
    budget = SloArgs().error_budget
    assert slo_gate(FakeProm(short=2 * budget, long=2 * budget))[0].check([SVC]).ok


def test_one_bad_measurement_does_not_fail_two_in_a_row_do():
    blip = FakeProm(p99=[0.9, 0.1, 0.1, 0.1])
    assert slo_gate(blip)[0].check([SVC]).ok
    slow = FakeProm(p99=[0.9, 0.9])
    result = slo_gate(slow)[0].check([SVC])
    assert not result.ok and "p99 900 ms (objective 200 ms)" in result.checks[0].detail


def test_blue_green_counts_only_the_live_slots_pods():
    """Main counted the idle slot's pods as up: a dead live slot passed."""
    bg = g.GateService("orders", "commerce", "commerce", False, SloArgs(), "aws-1", "blue-green")
    kube = FakeKube(
        rollout("Healthy"), services={"orders": {"spec": {"selector": {"slot": "green"}}}}
    )
    prom = FakeProm(up=0)
    result = slo_gate(prom, kube)[0].check([bg])
    assert not result.ok and "live slot green" in result.checks[0].detail
    ups = [q for q in prom.queries if q.startswith("sum(up")]
    assert ups and all('slot="green"' in q for q in ups)
    assert next(c for c in kube.calls if "service" in c)[:3] == ["get", "service", "orders"]


def test_native_canary_counts_the_stable_track():
    canary = g.GateService("pay", "commerce", "commerce", False, SloArgs(), "aws-1", "canary")
    prom = FakeProm()
    slo_gate(prom)[0].check([canary])
    assert all('track="stable"' in q for q in prom.queries if q.startswith("sum(up"))


def _serve(answer):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            query = parse_qs(urlparse(self.path).query)["query"][0]
            status, body = answer(self.path, query)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps(body).encode())

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_prometheus_http_api_is_queried_for_real():
    seen = []

    def answer(path, query):
        seen.append(path)
        value = "4" if query.startswith("sum(up") else "900" if "increase" in query else "0.0001"
        return 200, {
            "status": "success",
            "data": {"resultType": "vector", "result": [{"metric": {}, "value": [0, value]}]},
        }

    server = _serve(answer)
    try:
        m = g.PrometheusSlo(f"http://127.0.0.1:{server.server_port}/").measure(SVC)
    finally:
        server.shutdown()
    assert m.verdict == "good", m.detail
    assert all(p.startswith("/api/v1/query?") for p in seen)


def test_prometheus_http_error_is_a_bad_measurement_with_its_message():
    server = _serve(lambda path, q: (400, {"status": "error", "error": "parse error"}))
    try:
        m = g.PrometheusSlo(f"http://127.0.0.1:{server.server_port}").measure(SVC)
    finally:
        server.shutdown()
    assert m.verdict == "bad" and "parse error" in m.detail


# ---- which services, and where (defect 9)


def _svc(name, target, argo=False):
    return g.GateService(name, "commerce", "commerce", argo, SloArgs(), target)


def test_only_the_services_this_deploy_changed_are_judged():
    services = [_svc("orders", "aws-1"), _svc("orders-api", "aws-1"), _svc("orders", "gcp-1")]
    changed = [
        "urn:pulumi:prod::slipway::slipway:stacks:Target$slipway:index:Microservice$"
        "kubernetes:apps/v1:Deployment::aws-1-orders-api-deployment",
        "urn:pulumi:prod::slipway::slipway:dns:GlobalTraffic::shop",
    ]
    picked = g.changed_services(services, changed)
    assert [(s.target, s.name) for s in picked] == [("aws-1", "orders-api")]
    assert g.changed_services(services, None) == services


def test_a_changed_rollout_is_marked_and_a_target_wide_change_concerns_its_services():
    services = [_svc("inventory", "aws-1", True), _svc("orders", "aws-1"), _svc("orders", "gcp-1")]
    picked = g.changed_services(
        services,
        [
            "urn:pulumi:prod::slipway::a$kubernetes:argoproj.io/v1alpha1:Rollout::aws-1-inventory",
            "urn:pulumi:prod::slipway::a$kubernetes:core/v1:Namespace::gcp-1-ns-commerce",
        ],
    )
    assert [(s.target, s.name, s.rollout_changed) for s in picked] == [
        ("aws-1", "inventory", True),
        ("gcp-1", "orders", False),
    ]


def test_each_target_is_read_through_its_own_prometheus_and_context():
    """Main queried one Prometheus and one kube context for every region."""
    proms: dict[str, FakeProm] = {"http://p-aws": FakeProm(), "http://p-gcp": FakeProm()}
    kube = FakeKube(rollout("Healthy"))
    clock = Clock()
    gates = g.target_gates(
        {
            "aws-1": g.TargetEndpoints("ctx-aws", "http://p-aws"),
            "gcp-1": g.TargetEndpoints("ctx-gcp", "http://p-gcp"),
            "az-1": g.TargetEndpoints("ctx-az", None),
        },
        policy=POLICY,
        rollout_timeout=60,
        needs_prometheus={"aws-1", "gcp-1", "az-1"},
        kubectl=kube,
        query_for=proms.__getitem__,
        sleep=clock.sleep,
        clock=clock,
    )
    result = gates.check(
        [_svc("orders", "aws-1"), _svc("inventory", "gcp-1", True), _svc("orders", "az-1")]
    )
    by = {c.service: c for c in result.checks}
    assert by["aws-1/orders"].ok and by["gcp-1/inventory"].ok
    assert not by["az-1/orders"].ok and "targets[].gate.prometheusUrl" in by["az-1/orders"].detail
    assert proms["http://p-aws"].queries and not proms["http://p-gcp"].queries
    assert kube.calls[0][:2] == ["--context", "ctx-gcp"]


# ---- runbooks: the rollback command of each service matches its engine (defect 10)


def test_fast_burn_runbook_rolls_each_service_back_the_way_its_engine_allows():
    """Only an `engine: argo-rollouts` service has a Rollout for `kubectl argo rollouts`; a
    native blue-green or canary service goes back through its declared state."""
    from pathlib import Path

    from stacks.catalog import load_catalog

    repo = Path(__file__).resolve().parents[1]
    text = (repo / "docs" / "runbooks" / "alert-error-budget-fast-burn.md").read_text()
    rows = [
        [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        for line in text.splitlines()
        if line.strip().startswith("| `")
    ]
    catalog = {s.name: s for s in load_catalog(repo / "services", "prod")}
    assert {r[0] for r in rows} == set(catalog), "one row per service of the catalog"
    for name, strategy, how in rows:
        s = catalog[name]
        argo = s.strategy.engine == "argo-rollouts"
        assert strategy.startswith(s.strategy.type), (name, strategy, s.strategy.type)
        assert ("Argo Rollouts" in strategy) == argo, name
        assert ("kubectl argo rollouts" in how) == argo, name
        if s.strategy.type == "blue-green" and not argo:
            assert f"slipway promote {name} --stack prod" in how
        if s.strategy.type == "canary" and not argo:
            assert f"slipway abort {name} --stack prod" in how
