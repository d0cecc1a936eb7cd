"""Facts the program reads and never decides: each fact lives in exactly one module here.

- `vm_sizes`: Azure GPU VM sizes as AKS GPU pools see them.
- `gpu_models`: NVIDIA GPU models, their datasheet figures and MIG profiles.
- `kubernetes`: label syntax, the AKS node labels, GPU resource names, and `Taint`.
- `device_plugin`: the NVIDIA device plugin's name, socket path and image names.
- `pod_security`: what the Pod Security Standards' Baseline lets a pod ask of its node.
- `azure`: ARM API versions, feature flags and retirement dates of AKS features.
"""
