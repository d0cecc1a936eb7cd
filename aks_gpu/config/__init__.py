"""The stack's configuration, split by concern; `settings.read_settings` is the entry point.

Defaults come from `Pulumi.yaml` only (`project.declared_keys`). Each module
validates the keys it owns next to their declaration in code and records every
problem, so one `SettingsError` lists them all before anything is created.
"""
