"""devcloud: the real Nova 34 in one process, for tests and the demo.

Importing this package does not import Nova: the token table and the auth
middleware are plain Python so that the proxy's tests can use the tokens
without the ``[devcloud]`` extra. ``harness`` is the part that needs Nova.
"""
