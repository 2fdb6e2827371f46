"""Accounts, passwords, web sessions, second factor, sign-in throttling and service tokens."""
