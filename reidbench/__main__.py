"""``python -m reidbench ...`` (also what ``torchrun -m reidbench evaluate ...`` runs)."""

import sys

from reidbench.cli import main

sys.exit(main())
