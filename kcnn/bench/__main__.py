"""``python -m kcnn.bench SPEC.json``: the process the harness starts for each contender."""

import sys

from kcnn.bench.worker import main

if __name__ == "__main__":
    main(sys.argv[1])
