"""Pulumi dynamic resources that run the verifier (`aks_gpu.verifier`) during `pulumi up`.

Two dynamic resources wrap the library:

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

from typing import Any

import pulumi
import pulumi.dynamic as dynamic

# The kubeconfig only opens the door; a rotated certificate must not re-run a check.
NOT_A_TRIGGER = ("kubeconfig",)


def _changed(olds: dict[str, Any], news: dict[str, Any]) -> list[str]:
    """Inputs whose value moved. `olds` are the previous outputs, so the check's own
    results (None placeholders in `news`) and the serialised provider are left out."""
    return sorted(
        key
        for key, value in news.items()
        if value is not None and key not in NOT_A_TRIGGER and not key.startswith("__") and olds.get(key) != value
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
    """Waits for the expected allocatable GPUs with `aks_gpu.verifier.wait_for_gpus`."""

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        """Wait for the GPUs; raises the verifier's error (the message `pulumi up` shows) when they fall short."""
        # Imported here: this runs in Pulumi's dynamic provider process.
        from aks_gpu import verifier

        with verifier.api_client_from_kubeconfig(props["kubeconfig"]) as api:
            report = verifier.wait_for_gpus(
                api,
                expected=int(props["expectedGpus"]),
                timeout=float(props["timeoutSeconds"]),
                selector=props["selector"],
                resource=props.get("gpuResource"),
                progress=lambda line: pulumi.log.info(line),
            )
        summary = report.to_dict()
        outs = {k: v for k, v in props.items() if k not in NOT_A_TRIGGER}
        outs.update(verifiedGpus=summary["verifiedGpus"], gpuNodes=summary["nodes"])
        return dynamic.CreateResult(id_=f"gpu-check-{props['selector']}", outs=outs)


class SampleJobResultProvider(_Provider):
    """Reads the sample Job's result with `aks_gpu.verifier.read_job_result`."""

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        """Read the Job's status and the last lines of its pod's log."""
        from aks_gpu import verifier

        with verifier.api_client_from_kubeconfig(props["kubeconfig"]) as api:
            result = verifier.read_job_result(api, props["namespace"], props["jobName"])
        outs = {k: v for k, v in props.items() if k not in NOT_A_TRIGGER}
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
    """The check's inputs: the secret kubeconfig, what to wait for, the triggers, and None result placeholders."""
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
    """A dynamic resource that waits for the GPU pool's allocatable GPUs (outputs verifiedGpus, gpuNodes)."""

    verifiedGpus: pulumi.Output[int]
    gpuNodes: pulumi.Output[list]

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None):
        super().__init__(GpuCapacityCheckProvider(), name, props, opts)


class SampleJobResult(dynamic.Resource):
    """A dynamic resource that records the completed sample Job's status and log (output result)."""

    result: pulumi.Output[dict]

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions | None = None):
        super().__init__(SampleJobResultProvider(), name, {**props, "result": None}, opts)
