"""The HTTP edge: the aiohttp application, its middlewares and handlers."""
