"""Patch log collector (measure OPS-2). Entry point:
``patches = "collectors.patches:PatchCollector"`` in group ``audit_portal.collectors``."""

from collectors.patches.collector import PatchCollector, PatchConfig, PatchHost

__all__ = ["PatchCollector", "PatchConfig", "PatchHost"]
