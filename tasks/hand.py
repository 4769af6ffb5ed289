"""``hand``: 37 landmarks on hand X-rays (Payer et al.'s protocol).

Embedded data: procedural hand phantoms. ``--data-root``: Payer's layout (``setup/all.csv``, folds in
``setup/cv``, low-data splits in ``setup/cv_rand``) or the plain landmark folder. Millimetres by the
wrist rule (|L1 - L5| = 50 mm) for phantoms and Payer's layout, by the folder's stated pixel spacing
for the plain folder; SDR at 2 / 4 / 10 mm, with Payer-style outlier counts (error >= r).
"""

from benchmark.registry import TASKS
from benchmark.task import Task
from tasks.formats.detect import read_data_root
from tasks.phantoms.hand import HAND_LANDMARK_NAMES, read_hand_phantom

# Payer et al.'s success radii; the wrist rule that makes millimetres is tasks.formats.payer_hand's.
HAND_SDR_RADII_MM = (2.0, 4.0, 10.0)


@TASKS.register("hand", "hand X-ray landmarks (37), wrist-width mm rule; phantom or Payer's layout")
def hand_task() -> Task:
    return Task(name="hand", kind="landmarks", num_landmarks=37, read_phantom=read_hand_phantom,
                read_real=read_data_root, sdr_radii_mm=HAND_SDR_RADII_MM, landmark_names=HAND_LANDMARK_NAMES)
