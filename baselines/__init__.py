"""The compared methods: augmentation strategies and detectors, each registered by name."""
