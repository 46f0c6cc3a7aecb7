"""All I/O to Nova (and to Keystone, to find Nova) lives in this package."""
