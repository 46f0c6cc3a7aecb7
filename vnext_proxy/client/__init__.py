"""``vnext``: a command-line client of the vNext API served by vnext-proxy,
for people moving scripts off Nova's v2.1 API.

It is an ordinary HTTP client of the proxy: it imports nothing of the proxy
itself, so it shows the API exactly as any other client would see it.
"""
