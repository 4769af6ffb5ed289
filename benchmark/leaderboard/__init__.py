"""Leaderboards generated from the tracking store: collect runs, aggregate over seeds and folds, test
against the baseline augmentation, and write tables and figures. Never a typed number."""
