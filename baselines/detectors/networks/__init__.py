"""Network architectures used by the detectors (not registered themselves)."""
