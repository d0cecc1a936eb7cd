"""Pulumi ComponentResources, one per file, each taking only the settings it reads.

`gpu_cluster.GpuCluster` (cluster, GPU pool, Kubernetes provider),
`device_plugin.NvidiaDevicePlugin` (namespace, DaemonSet),
`gpu_verification.GpuVerification` (the capacity check) and
`sample_job.SampleGpuJob` (the walkthrough's job and its result).
`checks` holds the dynamic providers they use; `naming` the child options.
"""
