"""Route execution: what a vNext request does, below HTTP.

The web edge turns an HTTP request into an ``Inbound`` (its token, path
variables, query, a way to read its JSON body, and ``send``: Nova with the
caller's token) and hands it to one execution function, which answers a
``VNextResponse``. Execution plans Nova calls with the pure mapping engine,
sends them through ``send``, pages and filters, checks projects, and starts
tasks; it never sees aiohttp.
"""
