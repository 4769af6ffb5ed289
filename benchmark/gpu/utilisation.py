"""A GPU-utilisation trace sampled in a background thread through NVML (``nvidia-ml-py``, which the
GPU machine has): ``time_s`` (from the campaign's start), ``utilisation_pct`` (the fraction of the last
sample period in which a kernel ran, as ``nvidia-smi`` reports it) and ``memory_used_mib`` of device 0,
every ``period_s``. Where NVML or a GPU is missing (the CPU smoke test) the trace holds its header only
and :attr:`UtilisationTrace.unavailable` says why."""

from __future__ import annotations

import csv
import threading
import time
from pathlib import Path

HEADER = ("time_s", "utilisation_pct", "memory_used_mib")


class UtilisationTrace:
    def __init__(self, path: Path, started: float, period_s: float = 0.5) -> None:
        self.path, self.started, self.period_s = path, started, period_s
        self.samples: list[tuple[float, float, float]] = []
        self.unavailable: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> "UtilisationTrace":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        with open(self.path, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(HEADER)
            writer.writerows((round(t, 2), u, m) for t, u, m in self.samples)

    def _sample(self) -> None:
        try:
            import pynvml

            pynvml.nvmlInit()
            handle = pynvml.nvmlDeviceGetHandleByIndex(0)
        except Exception as error:  # no NVML library, no driver or no GPU: the trace stays empty
            self.unavailable = f"{type(error).__name__}: {error}"
            return
        while not self._stop.wait(self.period_s):
            rates, memory = (
                pynvml.nvmlDeviceGetUtilizationRates(handle),
                pynvml.nvmlDeviceGetMemoryInfo(handle),
            )
            self.samples.append((time.time() - self.started, float(rates.gpu), memory.used / 2**20))
        pynvml.nvmlShutdown()

    def mean_between(self, start_s: float, end_s: float) -> float | None:
        """Mean utilisation of the samples in ``[start_s, end_s]`` (campaign seconds), ``None`` if none."""
        inside = [u for t, u, _ in self.samples if start_s <= t <= end_s]
        return sum(inside) / len(inside) if inside else None
