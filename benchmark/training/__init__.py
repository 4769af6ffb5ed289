"""Batches, the training loop, seeding and checkpoints shared by all detectors."""
