"""A `pulumi preview` loads heavy SDKs only on the paths that use them (issue 19).

azure-core, azure-identity and azure-mgmt-compute cost every preview about
0.35 s and 33 MiB when imported at module load; they are for the preflight,
when it reads Azure. The Kubernetes client (and urllib3 under it) is for the
checks, which run in the dynamic-provider process during `pulumi up`, never
while the program is evaluated. Each case runs the whole program under the mock
engine in a fresh interpreter and lists the modules of those SDKs it loaded
(pulumi_azure_native and pulumi_kubernetes are different packages, and needed).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROBE = """
import json, sys
from tests.support.harness import run_program
run = run_program(json.loads(sys.argv[1]), preview=True)
heavy = ("azure", "msal", "kubernetes", "urllib3", "requests")
print(json.dumps({
    "resources": len(run.resources),
    "heavy": sorted(m for m in sys.modules if m.split(".")[0] in heavy),
}))
"""


def loaded_in_preview(overrides: dict[str, object], home: Path) -> dict[str, object]:
    # No sign-in of any kind: no ARM_*/AZURE_* variables, an empty home (no
    # Azure CLI profile) and no az on the PATH.
    env = {key: value for key, value in os.environ.items() if not key.startswith(("ARM_", "AZURE_"))}
    env.update(HOME=str(home), PATH=str(Path(sys.executable).parent), PYTHONPATH=str(REPO))
    completed = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(overrides)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    result: dict[str, object] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"aks-gpu:preflight": False}, id="preflight-off"),
        pytest.param({"aks-gpu:preflight": True}, id="preflight-skipped-without-sign-in"),
    ],
)
def test_preview_loads_no_azure_sdk_or_kubernetes_client_module_unless_the_preflight_reads_azure(overrides, tmp_path):
    loaded = loaded_in_preview(overrides, tmp_path)

    assert loaded["resources"], "the program registered nothing: the probe did not run it"
    assert loaded["heavy"] == []
