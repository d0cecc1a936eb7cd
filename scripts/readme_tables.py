"""Keeps the README's tables true to Pulumi.yaml, the catalog and the latest benchmark.

python scripts/readme_tables.py          # rewrite the tables in README.md
python scripts/readme_tables.py --check  # exit 1 if they are stale (the tests run this)
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from aks_gpu.config.project import declared_keys
from aks_gpu.facts import vm_sizes as catalog

ROOT = Path(__file__).resolve().parent.parent

README = ROOT / "README.md"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def config_table() -> str:
    """The README's config table, one row per key declared in Pulumi.yaml."""
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    rows.append(
        "| `azure-native:location` | string | (none) | Azure region of a new cluster; the dev stack uses eastus. |"
    )
    for key, spec in declared_keys().items():
        default = json.dumps(spec["default"]) if spec["type"] == "array" else repr(spec["default"]).strip("'")
        default = f"`{default}`" if default != "" else "(empty)"
        rows.append(f"| `{key}` | {spec['type']} | {default} | {_cell(spec['description'])} |")
    return "\n".join(rows)


def gpu_size_table() -> str:
    """The README's GPU VM size table, from the catalog."""
    rows = [
        "| VM size | GPU | nvidia.com/gpu per node | Gen1 | Gen2 | MIG | retired (successor) |",
        "|---|---|---|---|---|---|---|",
    ]
    for size in catalog.GPU_VM_SIZES.values():
        status = f"{size.retired_on.isoformat()} ({size.successor})" if size.retired_on else "current"
        if size.regional_retirement:
            later = sorted({d.isoformat() for d in size.regional_retirement.values()})
            status += f"; some regions later ({', '.join(later)})"
        yes = {True: "yes", False: "no"}
        rows.append(
            f"| {size.name} | {size.gpu_model} | {size.gpus_per_node} | {yes[size.gen1]} | {yes[size.gen2]} "
            f"| {yes[size.mig_capable]} | {_cell(status)} |"
        )
    for name, reason in catalog.UNSUPPORTED_GPU_VM_SIZES.items():
        rows.append(f"| {name} | refused | - | - | - | - | {_cell(reason)} |")
    return "\n".join(rows)


def benchmark_results() -> str:
    """The latest figures as benchmarks/verify_benchmark.py wrote them, headline removed."""
    text = (ROOT / "benchmarks" / "RESULTS.md").read_text()
    return text.split("\n", 1)[1].strip()


TABLES = {"config-table": config_table, "gpu-size-table": gpu_size_table, "benchmark": benchmark_results}


def render(text: str) -> str:
    """The README text with its generated tables replaced by fresh ones."""
    for marker, build in TABLES.items():
        pattern = re.compile(rf"(<!-- {marker}:start -->\n).*?(<!-- {marker}:end -->)", re.S)
        if not pattern.search(text):
            raise SystemExit(f"README.md has no <!-- {marker}:start --> / <!-- {marker}:end --> markers")
        table = build()
        text = pattern.sub(lambda m, table=table: m.group(1) + table + "\n" + m.group(2), text)
    return text


def main(argv: list[str]) -> int:
    """Rewrite the tables, or with --check exit 1 when they are stale."""
    current = README.read_text()
    wanted = render(current)
    if "--check" in argv:
        if current != wanted:
            print("README.md tables are stale: run python scripts/readme_tables.py", file=sys.stderr)
            return 1
        return 0
    README.write_text(wanted)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
