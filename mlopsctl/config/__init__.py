"""Reading mlops.yaml: load, resolve overlays, validate, check."""
