"""Turning generated label channels back into labels.

A generative model that samples ``[image, heatmap of all landmarks]`` (the DDPM-2ch augmentation) gives
one label channel in which every landmark is a blob without an identity. This package reads such a
channel: :mod:`~baselines.augmentations.labels.peaks` finds the blobs,
:mod:`~baselines.augmentations.labels.mrf` (on the topology of :mod:`~baselines.augmentations.labels.graph`)
names them, :mod:`~baselines.augmentations.labels.shape_model` rejects implausible shapes and
:mod:`~baselines.augmentations.labels.reader` ties the three together. A generated mask channel is judged
by :mod:`~baselines.augmentations.labels.mask_check`.
"""
