import sys

from vnext_proxy.client.cli import main

sys.exit(main())
