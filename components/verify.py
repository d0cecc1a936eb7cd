"""`python -m components.verify`: the first release's name of the `aks-gpu-verify` command."""

import sys

from aks_gpu.verifier.cli import main

if __name__ == "__main__":
    sys.exit(main())
