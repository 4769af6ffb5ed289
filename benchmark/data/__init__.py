"""Data containers, image I/O and splitting shared by every task."""
