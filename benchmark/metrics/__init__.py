"""Evaluation metrics as small numpy functions: landmark errors in mm (MRE, SDR, outliers) and
per-image segmentation overlap and boundary distances (Dice, precision, recall, HD95)."""
