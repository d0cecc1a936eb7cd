"""aks-gpu: a GPU-enabled AKS cluster that proves its GPUs work.

The package is layered; each layer imports only the layers above it in this list:

- `aks_gpu.facts`: what Azure, AKS, Kubernetes and NVIDIA define (VM sizes, GPU
  models, labels, taints, device-plugin constants). No project imports.
- `aks_gpu.config`: the stack's settings, read from Pulumi config and validated.
- `aks_gpu.builders`: pure functions that build ARM bodies and Kubernetes manifests.
- `aks_gpu.components`: Pulumi ComponentResources that register those bodies.
- `aks_gpu.verifier`: the cluster checks (kubeconfig, GPU waiter, job result,
  command line). It imports `facts` only and never pulumi, so pipelines and the
  dynamic providers share it.

`tests/repo/test_layers.py` enforces these directions.
"""
