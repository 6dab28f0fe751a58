"""Sandboxes of the systems routing talks to."""
