"""Start the copyai plugin with the dependencies bundled in lib/ (see the launcher next to this file)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))

from pulumi_copyai.plugin.server import main

main()
