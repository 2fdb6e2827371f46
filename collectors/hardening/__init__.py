"""Server hardening from Lynis reports (OPS-4).

Entry point: ``hardening = "collectors.hardening:HardeningCollector"``.
"""

from collectors.hardening.collector import HardeningCollector
from collectors.hardening.config import HardeningConfig

__all__ = ["HardeningCollector", "HardeningConfig"]
