#!/usr/bin/env bash
# Install the peer metric implementations the speed benchmarks compare against.
#
#   bash benchmarks/setup_peers.sh PYTHON      (called by `make bench`)
#
# Everything goes to benchmarks/_peers/ (gitignored); the project's virtual environment is not
# touched, and none of the peers' code is committed:
#   _peers/site/             pip install --no-deps --target: fastreid==1.4.0, torchreid==0.2.5
#   _peers/cy/               Cython builds of the peers' evaluators, from the .pyx they ship:
#                            fastreid_rank_cy.*.so  (fastreid/evaluation/rank_cylib/rank_cy.pyx)
#                            torchreid_rank_cy.*.so (only if torchreid ships rank_cy.pyx; 0.2.5
#                            on PyPI does not, so there is no torchreid Cython peer)
#   _peers/status.json       what was built, with versions (read by the benchmarks and report.py)
#
# The peers' package __init__ imports torchvision, which is not installed here: the benchmarks load
# only the metric modules, by file path (benchmarks/peers.py).
set -euo pipefail

PY="${1:?usage: setup_peers.sh PYTHON}"
# Absolute path (the build runs in another directory); keep the venv's symlink as is.
if [[ "$PY" == */* ]]; then PY="$(cd "$(dirname "$PY")" && pwd)/$(basename "$PY")"; fi
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PEERS="$HERE/_peers"
FASTREID_VERSION="${FASTREID_VERSION:-1.4.0}"
TORCHREID_VERSION="${TORCHREID_VERSION:-0.2.5}"

mkdir -p "$PEERS/site" "$PEERS/cy" "$PEERS/build"

echo "setup_peers: pip install --no-deps fastreid==$FASTREID_VERSION torchreid==$TORCHREID_VERSION"
"$PY" -m pip install -q --no-deps --upgrade --target "$PEERS/site" \
    "fastreid==$FASTREID_VERSION" "torchreid==$TORCHREID_VERSION"

"$PY" -c "import Cython" 2>/dev/null || "$PY" -m pip install -q 'cython>=3.0'

FR_PYX="$PEERS/site/fastreid/evaluation/rank_cylib/rank_cy.pyx"
TR_PYX="$PEERS/site/torchreid/reid/metrics/rank_cylib/rank_cy.pyx"

# Build one .pyx as a standalone extension module named $2 into _peers/cy/.
build_pyx() {
    local src="$1" name="$2"
    cp "$src" "$PEERS/build/$name.pyx"
    (cd "$PEERS/build" && "$PY" - "$name" <<'EOF'
import sys

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup

name = sys.argv[1]
ext = Extension(name, [f"{name}.pyx"], include_dirs=[np.get_include()],
                define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")])
setup(name=name, ext_modules=cythonize([ext], language_level=3, quiet=True),
      script_args=["-q", "build_ext", "--inplace"])
EOF
    )
    mv -f "$PEERS/build/$name".*.so "$PEERS/cy/"
}

FR_CY=false
TR_CY=false
if [ -f "$FR_PYX" ]; then
    echo "setup_peers: compiling fast-reid rank_cy.pyx"
    if build_pyx "$FR_PYX" fastreid_rank_cy; then FR_CY=true; fi
else
    echo "setup_peers: fast-reid does not ship rank_cy.pyx; no fast-reid Cython peer" >&2
fi
if [ -f "$TR_PYX" ]; then
    echo "setup_peers: compiling torchreid rank_cy.pyx"
    if build_pyx "$TR_PYX" torchreid_rank_cy; then TR_CY=true; fi
else
    echo "setup_peers: torchreid $TORCHREID_VERSION does not ship rank_cy.pyx; no torchreid Cython peer"
fi

"$PY" - "$PEERS" "$FASTREID_VERSION" "$TORCHREID_VERSION" "$FR_CY" "$TR_CY" <<'EOF'
import json
import sys

import Cython

peers, fr, tr, fr_cy, tr_cy = sys.argv[1:]
status = {
    "fastreid": fr, "torchreid": tr, "cython": Cython.__version__,
    "fastreid_cython": fr_cy == "true", "torchreid_cython": tr_cy == "true",
}
with open(f"{peers}/status.json", "w") as fh:
    json.dump(status, fh, indent=1)
print("setup_peers:", status)
EOF
