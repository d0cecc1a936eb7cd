"""Pure functions that build ARM bodies (`arm`) and Kubernetes objects (`pods`,
`device_plugin`, `sample_job`) as plain dicts; components only register them."""
