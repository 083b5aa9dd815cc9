"""`python -m stack_command`: what `scripts/stack` runs."""

import sys

from stack_command.cli import main

sys.exit(main())
