"""The mapping engine: vNext routes declared in ``mappings/*.yaml``.

``loader`` reads and checks the files once into the frozen objects of
``model``; ``plan`` (request -> Nova calls) and ``render`` (Nova answers ->
vNext answer) are pure functions over them. No I/O happens in this package
apart from reading the mapping files at start-up.
"""
