"""Workflow nodes of this app (found by workflows.nodes through settings.NODE_PACKAGES)."""
