"""Tool modules that only tests register (settings.NODE_PACKAGES += this package)."""
