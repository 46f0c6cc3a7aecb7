import sys

from vnext_proxy.cli import main

sys.exit(main())
