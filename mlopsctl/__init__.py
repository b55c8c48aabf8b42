"""mlopsctl: compile one mlops.yaml into Google Cloud infrastructure and Kubernetes manifests."""

__version__ = "0.1.0"
