"""A memory check before any image is read: a working size or batch that cannot fit is refused with the
estimate, instead of an allocation failure (or the machine swapping) minutes later.

The estimate is a lower bound, meant to catch sizes that are off by orders of magnitude (a mistyped
``--image-size 100000x100000``), not to budget a run:

    bytes = 4 * H * W * (n_images + ACTIVATION_FLOATS * batch_size)

with ``n_images`` the images held at the working size (the phantom pools, or every image file under
``--data-root``), float32, and ``ACTIVATION_FLOATS`` floats per input pixel for one training image's
activations (the default heatmap U-Net saves about 220 per pixel for backward; ``benchmark perf
--dry-run`` measures each model). It is compared with the memory the operating system reports as
available (``MemAvailable`` of ``/proc/meminfo``); where that is unknown nothing is refused.
"""

from __future__ import annotations

from pathlib import Path

from benchmark.data.settings import IMAGE_EXTENSIONS, DataSettings
from benchmark.errors import ConfigError

ACTIVATION_FLOATS = 64


def available_bytes() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def images_held(settings: DataSettings) -> int:
    if settings.data_root is None:
        return settings.n_labelled + settings.n_unlabelled
    root = Path(settings.data_root)
    return sum(1 for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS) if root.is_dir() else 0


def check_memory(settings: DataSettings, batch_size: int, available: int | None = None) -> None:
    """ConfigError with the estimate when it exceeds the available memory (module docstring)."""
    available = available_bytes() if available is None else available
    if available is None:
        return
    height, width = settings.image_size
    n_images = images_held(settings)
    needed = 4 * height * width * (n_images + ACTIVATION_FLOATS * batch_size)
    if needed > available:
        gib = f"{needed / 2**30:.1f} GiB, more than the {available / 2**30:.1f} GiB available"
        raise ConfigError(f"working size {height}x{width} with {n_images} images and batch {batch_size} "
                          f"needs at least {gib}; use a smaller --image-size or --batch-size")
