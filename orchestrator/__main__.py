# SPDX-License-Identifier: MIT
import sys

from orchestrator.cli import main

sys.exit(main())
