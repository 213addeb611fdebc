"""One module per command group; each has `register(app)`.

Command modules import what their commands run inside the commands, not at the top: every
invocation of `slipway` imports every command module to build the CLI, and a check of a
repository should not pay for the preview's engine or the strategy commands' gate.
"""

import importlib.util
import sys
from types import ModuleType


def lazy_module(name: str) -> ModuleType:
    """``name`` imported on first use of one of its attributes (the standard library's
    `importlib.util.LazyLoader`), or the module itself when it is imported already."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ImportError(f"no module named {name!r}")
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


PROJECT_DIR_HELP = (
    "Project folder (the one with Pulumi.yaml); default: found from the current folder "
    "upwards, as the Pulumi CLI does."
)
"""The `--project-dir` help every command shows."""
