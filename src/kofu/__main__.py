import sys

from kofu.cli import main

sys.exit(main())
