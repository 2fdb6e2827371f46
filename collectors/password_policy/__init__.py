"""Enforced password policy compared with the organisation's standard (ACC-4).

Entry point: ``password-policy = "collectors.password_policy:PasswordPolicyCollector"``.
"""

from collectors.password_policy.collector import PasswordPolicyCollector
from collectors.password_policy.config import PasswordPolicyConfig

__all__ = ["PasswordPolicyCollector", "PasswordPolicyConfig"]
