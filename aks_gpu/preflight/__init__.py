"""Azure preflight: before anything is created, checks that the region offers the pools' VM sizes and
that the subscription's vCPU quota can hold them. Pulumi-free; the program calls `check.run`.

- `demand`: what the stack's pools need and the pure rules that compare it with Azure's answers.
- `identity`: the credential and subscription the azure-native provider would use.
- `check`: reads compute usages and resource SKUs with azure-mgmt-compute and applies the rules.
"""
