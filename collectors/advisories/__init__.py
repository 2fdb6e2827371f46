"""Security advisories collector (measure ORG-2). Entry point:
``advisories = "collectors.advisories:AdvisoriesCollector"``."""

from collectors.advisories.collector import AdvisoriesCollector, AdvisoriesConfig

__all__ = ["AdvisoriesCollector", "AdvisoriesConfig"]
