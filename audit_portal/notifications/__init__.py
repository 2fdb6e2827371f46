"""E-mail notifications: the weekly digest per role, with a per-user opt-out."""
