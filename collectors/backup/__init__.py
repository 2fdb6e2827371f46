"""Backup verification: restic, borg and S3 backup buckets (measures BCM-1, BCM-2, PHY-3)."""

from collectors.backup.collector import BackupCollector
from collectors.backup.config import BackupConfig

__all__ = ["BackupCollector", "BackupConfig"]
