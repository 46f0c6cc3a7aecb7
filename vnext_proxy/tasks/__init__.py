"""The task engine: vNext tasks synthesized from what Nova shows.

``model`` holds the records, ``rules`` the pure decisions (what Nova's
state means for a task), ``poller`` the one loop per process that watches
every running task with batched Nova calls.
"""
