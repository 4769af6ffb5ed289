"""``benchmark perf``: measured throughput of every model, the data pipeline and the samplers."""
