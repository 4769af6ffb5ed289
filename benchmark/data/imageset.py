"""The one in-memory data container every task, augmentation and detector exchanges.

Conventions (used everywhere in the suite):

* ``images`` are grey-value float32 arrays in [0, 1] of shape (N, H, W) at the *working size*.
* ``landmarks`` are (N, K, 2) float32 **(x, y)** positions in working pixels; the centre of pixel
  ``image[i, j]`` is at ``(x=j, y=i)``. Resizing an image of width ``W0`` to ``W`` maps
  ``x -> (x + 0.5) * W / W0 - 0.5`` (and likewise for y).
* ``masks`` are (N, H, W) uint8 in {0, 1}.
* ``spacing`` is (N, 2) millimetres per *working* pixel along (x, y), so that a displacement
  ``(dx, dy)`` in working pixels has the length ``hypot(dx * sx, dy * sy)`` mm. It folds in the
  resize, so errors are exact for anisotropic resizing too.
* ``original_size`` is (N, 2) = (W0, H0) of the source image, to report predictions in its pixels.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

import numpy as np


@dataclass
class ImageSet:
    ids: list[str]
    images: np.ndarray
    spacing: np.ndarray
    original_size: np.ndarray
    landmarks: np.ndarray | None = None
    masks: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.ids)
        self.images = np.asarray(self.images, dtype=np.float32)
        self.spacing = np.asarray(self.spacing, dtype=np.float64).reshape(n, 2)
        self.original_size = np.asarray(self.original_size, dtype=np.int64).reshape(n, 2)
        if self.images.shape[0] != n or self.images.ndim != 3:
            raise ValueError(f"images must be (N={n}, H, W), got {self.images.shape}")
        if self.landmarks is not None:
            self.landmarks = np.asarray(self.landmarks, dtype=np.float32)
            if self.landmarks.shape[0] != n or self.landmarks.ndim != 3 or self.landmarks.shape[2] != 2:
                raise ValueError(f"landmarks must be (N={n}, K, 2), got {self.landmarks.shape}")
        if self.masks is not None:
            self.masks = np.asarray(self.masks, dtype=np.uint8)
            if self.masks.shape != self.images.shape:
                raise ValueError(f"masks {self.masks.shape} must match images {self.images.shape}")

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def image_size(self) -> tuple[int, int]:
        """(H, W) of the working size."""
        return int(self.images.shape[1]), int(self.images.shape[2])

    @property
    def num_landmarks(self) -> int:
        return 0 if self.landmarks is None else int(self.landmarks.shape[1])

    def subset(self, index) -> "ImageSet":
        """The images at ``index`` (a sequence of positions), in that order."""
        index = np.asarray(index, dtype=np.int64)
        return replace(
            self,
            ids=[self.ids[i] for i in index],
            images=self.images[index],
            spacing=self.spacing[index],
            original_size=self.original_size[index],
            landmarks=None if self.landmarks is None else self.landmarks[index],
            masks=None if self.masks is None else self.masks[index],
        )

    def select(self, ids: list[str]) -> "ImageSet":
        """The images with these ids, in that order."""
        position = {image_id: i for i, image_id in enumerate(self.ids)}
        missing = [i for i in ids if i not in position]
        if missing:
            raise KeyError(f"{len(missing)} ids not in the set, e.g. {missing[:3]}")
        return self.subset([position[i] for i in ids])

    def to_original_pixels(self, landmarks: np.ndarray) -> np.ndarray:
        """Map (N, K, 2) working-pixel positions back to the source images' pixels."""
        scale = self.original_size[:, None, :] / np.array(self.image_size[::-1])[None, None, :]
        return (landmarks + 0.5) * scale - 0.5

    def digest(self) -> str:
        """Content hash of ids, pixels and labels: identifies a training split for caches and tags."""
        h = hashlib.sha256()
        h.update("\n".join(self.ids).encode())
        for array in (self.images, self.spacing, self.landmarks, self.masks):
            if array is not None:
                h.update(np.ascontiguousarray(array).tobytes())
        return h.hexdigest()[:16]

    @staticmethod
    def concatenate(sets: list["ImageSet"]) -> "ImageSet":
        """Stack image sets of the same working size and label kind."""
        first = sets[0]
        return ImageSet(
            ids=[i for s in sets for i in s.ids],
            images=np.concatenate([s.images for s in sets]),
            spacing=np.concatenate([s.spacing for s in sets]),
            original_size=np.concatenate([s.original_size for s in sets]),
            landmarks=None if first.landmarks is None else np.concatenate([s.landmarks for s in sets]),
            masks=None if first.masks is None else np.concatenate([s.masks for s in sets]),
        )
