"""TLS scan of web endpoints (CRY-3).

Entry point: ``tls = "collectors.tls:TlsCollector"`` in the ``audit_portal.collectors`` group.
"""

from collectors.tls.collector import TlsCollector
from collectors.tls.config import TlsConfig, TlsTarget

__all__ = ["TlsCollector", "TlsConfig", "TlsTarget"]
