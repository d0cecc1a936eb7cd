"""`python3 -m gpu_acceptance` (in the pod) or `python -m aks_gpu.workloads.gpu_acceptance`: see node.main."""

import sys

from .node import main

if __name__ == "__main__":
    sys.exit(main())
