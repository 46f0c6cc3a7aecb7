"""vnext-proxy: the OpenStack Compute API vNext, served in front of an unmodified Nova."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("vnext-proxy")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
