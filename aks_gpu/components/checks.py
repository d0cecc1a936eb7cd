"""Pulumi dynamic resources that run the verifier (`aks_gpu.verifier`) during `pulumi up`.

Three dynamic resources wrap the library:

- `ClusterAccessCheck` waits until the cluster's authorizer allows the deploying
  identity to create namespaces (a new Azure role assignment takes minutes to
  arrive); every Kubernetes object of a new Entra ID cluster waits for it.

- `GpuCapacityCheck` waits until the GPU pool's allocatable `nvidia.com/gpu` adds
  up to the expected count and records what each node reports.
- `SampleJobResult` and `GpuAcceptanceResult` wait for their Job (with diagnosis and
  their own deadline: pulumi-kubernetes does not await these Jobs), then read its result.

The capacity and result checks end early, with the cluster's own words, when the
cluster names a cause (`aks_gpu.verifier.diagnosis`); their progress goes to their
own row where the engine allows it (`row_log`). They do their work in `create`/`update` only. Pulumi calls those during
`pulumi up`, never during `pulumi preview`, so a preview never contacts the cluster.
They run again when what they check changes (expected count, selector, the pool's
VM size, the plugin image, the Job), not on every `up`: a drift check with
`--expect-no-changes` stays quiet on an unchanged stack.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Mapping
from typing import Any

import pulumi
import pulumi.dynamic as dynamic

from aks_gpu.components.check_inputs import (
    ACCESS_OUTPUTS,
    CAPACITY_OUTPUTS,
    JOB_OUTPUTS,
    WAIT_SETTINGS,
    AccessCheckInputs,
    CapacityCheckInputs,
    CapacityCheckOutputs,
    JobCheckInputs,
)
from aks_gpu.components.row_log import RowLog

# The kubeconfig only opens the door; a rotated certificate must not re-run a check.
NOT_A_TRIGGER = ("kubeconfig",)


def check_props(
    kubeconfig: pulumi.Input[str],
    inputs: Mapping[str, Any],
    triggers: Mapping[str, pulumi.Input[Any]],
    outputs: tuple[str, ...],
) -> dict[str, Any]:
    """A check's resource inputs: the kubeconfig as a secret, what it checks, what re-runs it,
    and a None placeholder per output (so the outputs exist at preview)."""
    return {
        "kubeconfig": pulumi.Output.secret(kubeconfig),
        **inputs,
        **triggers,
        **dict.fromkeys(outputs),
    }


def _changed(olds: dict[str, Any], news: dict[str, Any]) -> list[str]:
    """Inputs whose value moved. `olds` are the previous outputs, so the check's own
    results (None placeholders in `news`) and the serialised provider are left out."""
    return sorted(
        key
        for key, value in news.items()
        if value is not None
        and key not in NOT_A_TRIGGER
        and key not in WAIT_SETTINGS
        and not key.startswith("__")
        and olds.get(key) != value
    )


def _in_the_provider_server() -> bool:
    """True in the process the engine starts with `python -m pulumi.dynamic`."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    return getattr(spec, "name", None) == "pulumi.dynamic.__main__"


@contextlib.contextmanager
def _failure_as_message() -> Iterator[None]:
    """Let the verifier's error reach the user as its message, without a traceback.

    The SDK's dynamic-provider server (`pulumi/dynamic/__main__.py`, `_abort_with_traceback`)
    answers every exception with `traceback.format_exc()` and lets no type through, so the
    message would follow a traceback of the server's own frames. `format_exc` honours
    `sys.tracebacklimit`: at 0 it prints no stack and no "Traceback" header, only
    `<module>.<type>: <message>`. It is set only in that server process and only once a
    check has failed (which ends the update anyway), so the program process and the tests
    keep their tracebacks. The chained causes are dropped: their text could carry what the
    verifier's own message leaves out (a token in a library's error).
    """
    from aks_gpu.verifier.errors import VerificationError

    try:
        yield
    except VerificationError as error:
        if _in_the_provider_server():
            sys.tracebacklimit = 0
        error.__cause__ = None
        error.__suppress_context__ = True
        raise


class _Provider(dynamic.ResourceProvider):
    """Shared diff: re-run on a changed trigger, never because of the kubeconfig."""

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> dynamic.DiffResult:
        return dynamic.DiffResult(changes=bool(_changed(olds, news)))

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> dynamic.UpdateResult:
        return dynamic.UpdateResult(outs=self.create(news).outs)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        # Nothing lives in the cluster: a check is only a record in the state.
        return None

    def read(self, id_: str, props: dict[str, Any]) -> dynamic.ReadResult:
        """Refresh and import: the last recorded state, unchanged.

        A check is a record of what the cluster showed when it ran, not an object in
        the cluster, so a refresh never contacts the cluster (nor fails because it is
        unreachable); it returns the state it was given and says so in a log line.
        """
        pulumi.log.info(f"{id_}: refresh keeps the last recorded check result (the cluster is not contacted)")
        return dynamic.ReadResult(id_=id_, outs=dict(props))


class GpuCapacityCheckProvider(_Provider):
    """Waits for the expected allocatable GPUs with `aks_gpu.verifier.wait_for_gpus`."""

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        """Wait for the GPUs; raises the verifier's error (the message `pulumi up` shows) when they fall short."""
        # Imported here: this runs in Pulumi's dynamic provider process.
        from aks_gpu import verifier

        check = CapacityCheckInputs.from_props(props)
        with (
            _failure_as_message(),
            verifier.api_client_from_kubeconfig(str(props["kubeconfig"]), exec_timeout=check.timeout_seconds) as api,
        ):
            report = verifier.wait_for_gpus(
                api,
                expected=check.expected_gpus,
                timeout=check.timeout_seconds,
                selector=check.selector,
                resource=check.gpu_resource,
                progress=RowLog(check.log_urn if isinstance(check.log_urn, str) else None),
                plugin_namespace=check.plugin_namespace,
            )
        summary = report.to_dict()
        outs = {k: v for k, v in props.items() if k not in NOT_A_TRIGGER}
        outs.update(CapacityCheckOutputs(verified_gpus=summary["verifiedGpus"], gpu_nodes=summary["nodes"]).to_outs())
        return dynamic.CreateResult(id_=f"gpu-check-{check.selector}", outs=outs)


class _JobReaderProvider(_Provider):
    """Waits for a Job with diagnosis (`waitSeconds`), then reads what its pods logged; subclasses say how."""

    def read_job(self, api: Any, namespace: str, job_name: str) -> dict[str, Any]:
        """The Job's result as JSON-ready data; raises the verifier's error when it is a failure."""
        raise NotImplementedError

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        """Wait for the Job to complete (its own deadline), then read its result into the `result` output.

        The wait ends early, failing `pulumi up` with the cluster's own words, when a cause is
        diagnosed (see `aks_gpu.verifier.diagnosis`). The kubeconfig is left out of the outputs.
        """
        from aks_gpu import verifier
        from aks_gpu.verifier.job_wait import wait_for_job

        job = JobCheckInputs.from_props(props)
        exec_timeout = float(job.wait_seconds) if job.wait_seconds else 60.0
        with (
            _failure_as_message(),
            verifier.api_client_from_kubeconfig(str(props["kubeconfig"]), exec_timeout=exec_timeout) as api,
        ):
            if job.wait_seconds:
                wait_for_job(
                    api,
                    job.namespace,
                    str(job.job_name),
                    job.wait_seconds,
                    plugin_namespace=job.plugin_namespace,
                    node_selector=job.node_selector,
                    progress=RowLog(job.log_urn if isinstance(job.log_urn, str) else None),
                )
            result = self.read_job(api, job.namespace, str(job.job_name))
        outs = {k: v for k, v in props.items() if k not in NOT_A_TRIGGER}
        outs["result"] = result
        return dynamic.CreateResult(id_=f"{job.namespace}/{job.job_name}", outs=outs)


class SampleJobResultProvider(_JobReaderProvider):
    """Reads the MNIST Job's status and last lines with `aks_gpu.verifier.read_job_result`."""

    def read_job(self, api: Any, namespace: str, job_name: str) -> dict[str, Any]:
        """Status, pod and the last `Accuracy at step` of the Job's newest pod."""
        from aks_gpu import verifier

        return verifier.read_job_result(api, namespace, job_name)


class AcceptanceResultProvider(_JobReaderProvider):
    """Reads the GPU acceptance Job's verdicts with `aks_gpu.verifier.acceptance_result`."""

    def read_job(self, api: Any, namespace: str, job_name: str) -> dict[str, Any]:
        """Every node's verdicts; raises (failing `pulumi up`) naming node, GPU and figures when one fell short."""
        from aks_gpu.verifier.acceptance_result import read_acceptance_result

        return read_acceptance_result(api, namespace, job_name)


class ClusterAccessCheckProvider(_Provider):
    """Waits with `aks_gpu.verifier.access.wait_for_access` until the identity may create namespaces."""

    def create(self, props: dict[str, Any]) -> dynamic.CreateResult:
        """Wait for the role assignment to reach the cluster; raises ClusterAccessError at the deadline."""
        from aks_gpu import verifier
        from aks_gpu.verifier.access import wait_for_access

        check = AccessCheckInputs.from_props(props)
        with (
            _failure_as_message(),
            verifier.api_client_from_kubeconfig(str(props["kubeconfig"]), exec_timeout=check.timeout_seconds) as api,
        ):
            reviews = wait_for_access(api, check.timeout_seconds, progress=lambda line: pulumi.log.info(line))
        outs = {k: v for k, v in props.items() if k not in NOT_A_TRIGGER}
        outs["reviews"] = reviews
        return dynamic.CreateResult(id_="cluster-access", outs=outs)


class ClusterAccessCheck(dynamic.Resource):
    """A dynamic resource that waits until the kubeconfig's identity may create namespaces (output reviews)."""

    reviews: pulumi.Output[int]

    def __init__(
        self,
        name: str,
        kubeconfig: pulumi.Input[str],
        inputs: AccessCheckInputs,
        triggers: Mapping[str, pulumi.Input[Any]],
        opts: pulumi.ResourceOptions | None = None,
    ):
        props = check_props(kubeconfig, inputs.to_props(), triggers, ACCESS_OUTPUTS)
        super().__init__(ClusterAccessCheckProvider(), name, props, opts)


class GpuCapacityCheck(dynamic.Resource):
    """A dynamic resource that waits for the GPU pool's allocatable GPUs (outputs verifiedGpus, gpuNodes)."""

    verifiedGpus: pulumi.Output[int]
    gpuNodes: pulumi.Output[list[dict[str, Any]]]

    def __init__(
        self,
        name: str,
        kubeconfig: pulumi.Input[str],
        inputs: CapacityCheckInputs,
        triggers: Mapping[str, pulumi.Input[Any]],
        opts: pulumi.ResourceOptions | None = None,
    ):
        props = check_props(kubeconfig, inputs.to_props(), triggers, CAPACITY_OUTPUTS)
        super().__init__(GpuCapacityCheckProvider(), name, props, opts)


class _JobResult(dynamic.Resource):
    """A dynamic resource that waits for a Job and records its result (output `result`); subclasses name the reader."""

    result: pulumi.Output[dict[str, Any]]
    reader: type[_JobReaderProvider]

    def __init__(
        self,
        name: str,
        kubeconfig: pulumi.Input[str],
        inputs: JobCheckInputs,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__(self.reader(), name, check_props(kubeconfig, inputs.to_props(), {}, JOB_OUTPUTS), opts)


class SampleJobResult(_JobResult):
    """Records the completed sample Job's status and log (output result)."""

    reader = SampleJobResultProvider


class GpuAcceptanceResult(_JobResult):
    """Records the acceptance test's verdict per node and GPU (output result)."""

    reader = AcceptanceResultProvider
