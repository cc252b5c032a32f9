"""Tool modules that only the sandbox's tests register (settings.NODE_PACKAGES += this)."""
