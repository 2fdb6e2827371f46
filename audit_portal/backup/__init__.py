"""Backup and restore of the portal: database dump, data-directory keys, store object manifest."""
