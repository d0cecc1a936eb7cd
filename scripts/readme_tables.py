"""Keeps the generated parts of README.md and docs/ true to Pulumi.yaml and the catalog.

python scripts/readme_tables.py          # rewrite the generated blocks
python scripts/readme_tables.py --check  # exit 1 if any is stale (the tests run this)

Each block sits between `<!-- NAME:start -->` and `<!-- NAME:end -->` in one file:
the README's list of config keys, the configuration reference (docs/configuration.md)
and the GPU size table (docs/gpu-sizes.md).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

from aks_gpu.config.project import declared_keys
from aks_gpu.facts import gpu_models
from aks_gpu.facts import vm_sizes as catalog

ROOT = Path(__file__).resolve().parent.parent

README = ROOT / "README.md"
CONFIGURATION = ROOT / "docs" / "configuration.md"
GPU_SIZES = ROOT / "docs" / "gpu-sizes.md"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def config_keys() -> str:
    """The README's compact list: every key Pulumi.yaml declares, in its order."""
    names = ", ".join(f"`{key}`" for key in declared_keys())
    return f"{names}; and `azure-native:location`, the region."


def config_table() -> str:
    """The configuration reference, one row per key declared in Pulumi.yaml."""
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
    """The GPU VM size table, from the catalog."""
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


def gpu_model_table() -> str:
    """Datasheet figures and MIG slice names per GPU model, from gpu_models."""
    rows = [
        "| GPU | memory GiB | precision | dense TFLOP/s | memory GB/s | MIG slices (MIG1g, 2g, 3g, 4g, 7g) |",
        "|---|---|---|---|---|---|",
    ]
    for model in gpu_models.GPU_MODELS.values():
        slices = ", ".join(f"`{p.slice}` x{p.instances_per_gpu}" for p in model.mig_profiles.values()) or "-"
        rows.append(
            f"| {model.name} | {model.memory_gib:g} | {model.tensor_dtype} | {model.dense_tflops:g} "
            f"| {model.memory_bandwidth_gbps:g} | {slices} |"
        )
    return "\n".join(rows)


BLOCKS: dict[Path, dict[str, Callable[[], str]]] = {
    README: {"config-keys": config_keys},
    CONFIGURATION: {"config-table": config_table},
    GPU_SIZES: {"gpu-size-table": gpu_size_table, "gpu-model-table": gpu_model_table},
}


def render(text: str, blocks: dict[str, Callable[[], str]], name: str = "README.md") -> str:
    """`text` with each generated block replaced by a fresh one; SystemExit when a marker is missing."""
    for marker, build in blocks.items():
        pattern = re.compile(rf"(<!-- {marker}:start -->\n).*?(<!-- {marker}:end -->)", re.S)
        if not pattern.search(text):
            raise SystemExit(f"{name} has no <!-- {marker}:start --> / <!-- {marker}:end --> markers")
        block = build()
        text = pattern.sub(lambda m, block=block: m.group(1) + block + "\n" + m.group(2), text)
    return text


def main(argv: list[str]) -> int:
    """Rewrite the blocks, or with --check exit 1 naming each stale file."""
    stale = []
    for path, blocks in BLOCKS.items():
        current = path.read_text()
        wanted = render(current, blocks, str(path.relative_to(ROOT)))
        if current == wanted:
            continue
        if "--check" in argv:
            stale.append(str(path.relative_to(ROOT)))
        else:
            path.write_text(wanted)
    if stale:
        print(f"stale generated blocks in {', '.join(stale)}: run python scripts/readme_tables.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
