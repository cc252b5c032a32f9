"""Node types that only tests register (settings.NODE_PACKAGES += this package)."""
