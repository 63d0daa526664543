"""`python -m console` is the `syncdeck` command."""

import sys

from console.cli import main

sys.exit(main())
