"""Signed evidence packages: the streamed ZIP of an engagement and its offline verification."""
