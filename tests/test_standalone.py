"""Other teams import Microservice into their own program: no catalog, no stacks needed."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROGRAM = textwrap.dedent(
    """
    import sys
    from slipway.engine import run_program

    def program():
        from slipway_components import ContainerPort, HttpProbe, Microservice, MicroserviceArgs

        Microservice(
            "billing",
            MicroserviceArgs(
                service_name="billing",
                namespace="finance",
                team="finance",
                image="registry.example.com/billing:4.0.0",
                ports=[ContainerPort(port=8080)],
                liveness=HttpProbe(path="/live"),
                readiness=HttpProbe(path="/ready"),
            ),
        )

    result = run_program(program, project="theirs", stack="dev", config={}, secret_keys=[])
    kinds = sorted(r.type.rsplit(":", 1)[-1] for r in result.records if r.custom)
    print(",".join(kinds))
    leaked = [m for m in ("stacks", "stacks.catalog") if m in sys.modules]
    print("leaked:" + ",".join(leaked))
    """
)


def test_microservice_builds_in_a_fresh_program(tmp_path: Path) -> None:
    (tmp_path / "program.py").write_text(PROGRAM)
    proc = subprocess.run(
        [sys.executable, "program.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    kinds, leaked = proc.stdout.strip().splitlines()
    assert kinds == "ConfigMap,Deployment,NetworkPolicy,PodDisruptionBudget,Service,ServiceAccount"
    assert leaked == "leaked:", "components must not import stacks/"
