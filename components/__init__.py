"""Module paths of the first release, kept so that its Pulumi state still loads.

State written by the first release names the dynamic providers as
`components.verification.GpuCapacityCheckProvider` and
`components.verification.SampleJobResultProvider`; `python -m components.verify`
was its verification command. New code imports `aks_gpu`.
"""
