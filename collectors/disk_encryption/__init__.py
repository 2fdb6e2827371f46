"""Disk encryption collector (measure CRY-2). Entry point:
``disk-encryption = "collectors.disk_encryption:DiskEncryptionCollector"``."""

from collectors.disk_encryption.collector import DiskEncryptionCollector, DiskEncryptionConfig

__all__ = ["DiskEncryptionCollector", "DiskEncryptionConfig"]
