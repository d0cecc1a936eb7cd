"""The first release's module path of the dynamic providers, for state it wrote."""

from aks_gpu.components.checks import GpuCapacityCheckProvider, SampleJobResultProvider

__all__ = ["GpuCapacityCheckProvider", "SampleJobResultProvider"]
