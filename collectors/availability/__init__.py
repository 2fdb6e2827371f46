"""Availability monitoring collector (measure OPS-3). Entry point:
``availability = "collectors.availability:AvailabilityCollector"``."""

from collectors.availability.collector import AvailabilityCollector, AvailabilityConfig

__all__ = ["AvailabilityCollector", "AvailabilityConfig"]
