"""`python -m console` is the `syncdeck` command."""

import sys

from console.startup import main

sys.exit(main())
