"""Scripts that run inside the cluster's pods; standard library at import time, delivered by ConfigMap."""
