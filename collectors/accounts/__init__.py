"""Access list and log-on settings for access reviews (ACC-2, ACC-3).

Entry point: ``accounts = "collectors.accounts:AccountsCollector"``.
"""

from collectors.accounts.collector import AccountsCollector
from collectors.accounts.config import AccountsConfig

__all__ = ["AccountsCollector", "AccountsConfig"]
