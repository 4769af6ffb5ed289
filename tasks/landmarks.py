"""``landmarks``: any other landmark data set in the plain folder format (``--data-root`` required).

The landmark count is read from the CSV; SDR at 2 / 2.5 / 3 / 4 mm as for cephalometry.
"""

from benchmark.registry import TASKS
from benchmark.task import Task
from tasks.ceph import CEPH_SDR_RADII_MM
from tasks.formats.detect import read_data_root


@TASKS.register("landmarks", "any landmark set in the plain folder format (images/ + landmarks.csv); needs "
                             "--data-root")
def landmarks_task() -> Task:
    return Task(name="landmarks", kind="landmarks", num_landmarks=None, read_phantom=None,
                read_real=read_data_root, sdr_radii_mm=CEPH_SDR_RADII_MM)
