"""``python -m sqsnet`` runs the command-line interface."""

import sys

from sqsnet.cli import main

sys.exit(main())
