"""``canal``: mandibular-canal segmentation on panoramic radiographs (the lim2024 downstream task).

Embedded data: procedural panoramic phantoms with two thin curved canals and an unlabelled pool.
``--data-root``: the plain segmentation folder (``images/``, ``masks/``, optional ``unlabelled/``).
Metrics: Dice, precision, recall, HD95 in mm.
"""

from benchmark.registry import TASKS
from benchmark.task import Task
from tasks.formats.detect import read_data_root
from tasks.phantoms.canal import read_canal_phantom


@TASKS.register("canal", "mandibular-canal segmentation on panoramic radiographs; "
                         "phantom or segmentation folder")
def canal_task() -> Task:
    return Task(name="canal", kind="segmentation", num_landmarks=0, read_phantom=read_canal_phantom,
                read_real=read_data_root)
