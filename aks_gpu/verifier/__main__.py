"""`python -m aks_gpu.verifier`: the same as the `aks-gpu-verify` command."""

import sys

from aks_gpu.verifier.cli import main

sys.exit(main())
