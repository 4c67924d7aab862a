import sys

from emoalign.cli import main

sys.exit(main())
