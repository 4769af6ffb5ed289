"""Deciding, before each job of a campaign, whether it can finish before the deadline.

A job's duration is estimated from the jobs already run, most specific first:

0. a command other than ``run`` (``perf``): the last of its kind;
1. the last job that trained the same generator (``ddpm`` for both ``ddpm`` and ``classic+ddpm``), when
   this job's synthetic set is not cached yet, i.e. it will train the generator itself;
2. otherwise, for a job that trains only the detector (no generator, or its set already cached by an
   earlier job of the same task and training-set size), the longest such job so far;
3. else the longest job so far, else ``default_s``.

A job starts only when ``elapsed + estimate <= deadline``; otherwise it is skipped and recorded, and the
campaign goes on to the next (cheaper) one. Whatever the estimate, a started job is stopped at the
deadline itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DETECTOR_ONLY = "detector only"


@dataclass(frozen=True)
class Job:
    """One ``benchmark`` command of the campaign (``kind``: ``run``, or another command such as ``perf``,
    estimated on its own). ``generator`` is the augmentation's generator part
        (``None`` for a transform or no augmentation); ``cache_key`` says which jobs share a synthetic set."""

    name: str
    argv: tuple[str, ...]
    kind: str = "run"
    generator: str | None = None
    cache_key: tuple | None = None
    output: str | None = None


@dataclass
class History:
    """Durations of the jobs run so far, by estimate key, and the synthetic sets they built."""

    seconds: dict[str, list[float]] = field(default_factory=dict)
    cached: set[tuple] = field(default_factory=set)

    def key(self, job: Job) -> str:
        if job.kind != "run":
            return job.kind
        if job.generator is None or job.cache_key in self.cached:
            return DETECTOR_ONLY
        return job.generator

    def record(self, job: Job, seconds: float, finished: bool) -> None:
        """A finished job's duration; only a finished job leaves its synthetic set in the cache."""
        if not finished:
            return
        self.seconds.setdefault(self.key(job), []).append(seconds)
        if job.cache_key is not None:
            self.cached.add(job.cache_key)

    def estimate(self, job: Job, default_s: float) -> float:
        key = self.key(job)
        if key in self.seconds:
            return self.seconds[key][-1] if key != DETECTOR_ONLY else max(self.seconds[key])
        every = [s for durations in self.seconds.values() for s in durations]
        return max(every) if every else default_s


def fits(elapsed_s: float, estimate_s: float, deadline_s: float) -> bool:
    return elapsed_s + estimate_s <= deadline_s
