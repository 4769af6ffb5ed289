"""``segmentation``: any binary segmentation data set in the plain folder format
(``--data-root`` required)."""

from benchmark.registry import TASKS
from benchmark.task import Task
from tasks.formats.detect import read_data_root


@TASKS.register("segmentation", "any binary segmentation set in the plain folder format (images/ + masks/); "
                                "needs --data-root")
def segmentation_task() -> Task:
    return Task(name="segmentation", kind="segmentation", num_landmarks=0, read_phantom=None,
                read_real=read_data_root)
