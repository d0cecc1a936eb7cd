"""The aks-gpu policy pack. `rules` holds the checks; `__main__` wires them into pulumi-policy."""
