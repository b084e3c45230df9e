import sys

from crs_agent.agent.cli import main

sys.exit(main())
