"""``ceph``: 19 cephalometric landmarks, ISBI 2015 grand challenge protocol.

Embedded data: procedural lateral cephalogram phantoms modelled on 1935 x 2400 images at 0.1 mm per
pixel. ``--data-root``: the ISBI 2015 layout (fold 1 = Test1Data, fold 2 = Test2Data; ground truth
senior, junior or mean) or the plain landmark folder. SDR at 2 / 2.5 / 3 / 4 mm.
"""

from benchmark.registry import TASKS
from benchmark.task import Task
from tasks.formats.detect import read_data_root
from tasks.phantoms.ceph import CEPH_LANDMARK_NAMES, read_ceph_phantom

# The ISBI 2015 challenge's success radii.
CEPH_SDR_RADII_MM = (2.0, 2.5, 3.0, 4.0)


@TASKS.register("ceph", "cephalometric landmarks (19, ISBI 2015 order), 0.1 mm pixels; phantom or ISBI "
                        "layout")
def ceph_task() -> Task:
    return Task(name="ceph", kind="landmarks", num_landmarks=19, read_phantom=read_ceph_phantom,
                read_real=read_data_root, sdr_radii_mm=CEPH_SDR_RADII_MM, landmark_names=CEPH_LANDMARK_NAMES)
