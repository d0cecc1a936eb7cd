"""Proof during `pulumi up` that the GPU nodes advertise the GPUs the stack expects.

Two Pulumi dynamic resources wrap the library in `components/verify.py`:

- `GpuCapacityCheck` waits until the GPU pool's allocatable `nvidia.com/gpu` adds
  up to the expected count and records what each node reports.
- `SampleJobResult` reads the sample Job's status and log after it completed.

Both do their work in `create`/`update` only. Pulumi calls those during
`pulumi up`, never during `pulumi preview`, so a preview never contacts the cluster.
They run again when what they check changes (expected count, selector, the pool's
VM size, the plugin image, the Job), not on every `up`: a drift check with
`--expect-no-changes` stays quiet on an unchanged stack.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pulumi
import pulumi.dynamic as dynamic

# The kubeconfig only opens the door; a rotated certificate must not re-run a check.
_NOT_A_TRIGGER = ("kubeconfig",)


def _changed(olds: dict[str, Any], news: dict[str, Any]) -> list[str]:
    """Inputs whose value moved. `olds` are the previous outputs, so the check's own
    results (None placeholders in `news`) and the serialised provider are left out."""
    return sorted(
        key
        for key, value in news.items()
        if value is not None and key not in _NOT_A_TRIGGER and not key.startswith("__") and olds.get(key) != value
    )


class _Provider(dynamic.ResourceProvider):
    """Shared diff: re-run on a changed trigger, never because of the kubeconfig."""

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        return dynamic.DiffResult(changes=bool(_changed(olds, news)))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> dynamic.UpdateResult:
        return dynamic.UpdateResult(outs=self.create(news).outs)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        # Nothing lives in the cluster: a check is only a record in the state.
        return None


class GpuCapacityCheckProvider(_Provider):
    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        # Imported here: this runs in Pulumi's dynamic provider process.
        from components import verify

        with verify.api_client_from_kubeconfig(props["kubeconfig"]) as api:
            report = verify.wait_for_gpus(
                api,
                expected=int(props["expectedGpus"]),
                timeout=float(props["timeoutSeconds"]),
                selector=props["selector"],
                progress=lambda line: pulumi.log.info(line),
            )
        summary = report.to_dict()
        outs = {k: v for k, v in props.items() if k not in _NOT_A_TRIGGER}
        outs.update(verifiedGpus=summary["verifiedGpus"], gpuNodes=summary["nodes"])
        return dynamic.CreateResult(id_=f"gpu-check-{props['selector']}", outs=outs)


class SampleJobResultProvider(_Provider):
    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        from components import verify

        with verify.api_client_from_kubeconfig(props["kubeconfig"]) as api:
            result = verify.read_job_result(api, props["namespace"], props["jobName"])
        outs = {k: v for k, v in props.items() if k not in _NOT_A_TRIGGER}
        outs["result"] = result
        return dynamic.CreateResult(id_=f"{props['namespace']}/{props['jobName']}", outs=outs)


def capacity_check_inputs(
    *,
    kubeconfig: pulumi.Input[str],
    expected_gpus: int,
    timeout_seconds: int,
    selector: str,
    triggers: dict[str, pulumi.Input[Any]],
) -> dict[str, Any]:
    return {
        "kubeconfig": pulumi.Output.secret(kubeconfig),
        "expectedGpus": expected_gpus,
        "timeoutSeconds": timeout_seconds,
        "selector": selector,
        **triggers,
        "verifiedGpus": None,
        "gpuNodes": None,
    }


class GpuCapacityCheck(dynamic.Resource):
    verifiedGpus: pulumi.Output[int]
    gpuNodes: pulumi.Output[list]

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None):
        super().__init__(GpuCapacityCheckProvider(), name, props, opts)


class SampleJobResult(dynamic.Resource):
    result: pulumi.Output[dict]

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None):
        super().__init__(SampleJobResultProvider(), name, {**props, "result": None}, opts)


@dataclasses.dataclass
class GpuVerificationArgs:
    kubeconfig: pulumi.Input[str]
    expected_gpus: int
    timeout_seconds: int
    # Nodes of this agent pool are the ones whose GPUs count.
    selector: str
    # Re-run the check when the pool's size or the plugin changes.
    triggers: dict[str, pulumi.Input[Any]]
    depends_on: list[pulumi.Resource]


class GpuVerification(pulumi.ComponentResource):
    """Fails `pulumi up` unless the GPU pool advertises the expected allocatable GPUs."""

    verified_gpus: pulumi.Output[int]
    gpu_nodes: pulumi.Output[list]
    check: GpuCapacityCheck

    def __init__(self, name: str, args: GpuVerificationArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("aks-gpu:index:GpuVerification", name, None, opts)
        self.check = GpuCapacityCheck(
            "gpu-capacity",
            capacity_check_inputs(
                kubeconfig=args.kubeconfig,
                expected_gpus=args.expected_gpus,
                timeout_seconds=args.timeout_seconds,
                selector=args.selector,
                triggers=args.triggers,
            ),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=args.depends_on,
                additional_secret_outputs=list(_NOT_A_TRIGGER),
                # The check may wait up to its own timeout; give the engine a margin.
                custom_timeouts=pulumi.CustomTimeouts(
                    create=f"{args.timeout_seconds + 120}s", update=f"{args.timeout_seconds + 120}s"
                ),
            ),
        )
        self.verified_gpus = self.check.verifiedGpus
        self.gpu_nodes = self.check.gpuNodes
        self.register_outputs({"verifiedGpus": self.verified_gpus, "gpuNodes": self.gpu_nodes})
