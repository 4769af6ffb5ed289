"""Turning generated label channels back into labels.

A generative model that samples ``[image, heatmap of all landmarks]`` (the DDPM-2ch augmentation) gives
one label channel in which every landmark is a blob without an identity. This package reads such a
channel: :mod:`~benchmark.labels.peaks` finds the blobs, :mod:`~benchmark.labels.mrf` (on the topology of
:mod:`~benchmark.labels.graph`) names them, :mod:`~benchmark.labels.shape_model` rejects implausible
shapes and :mod:`~benchmark.labels.reader` ties the three together. A generated mask channel is
judged by :mod:`~benchmark.labels.mask_check`.
"""
