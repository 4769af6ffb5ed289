"""Benchmark tasks: data + metric protocol, registered by name (see :mod:`benchmark.registry`).

``phantoms/`` holds the embedded procedural data sets, ``formats/`` the readers of real data layouts.
"""
