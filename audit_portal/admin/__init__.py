"""Administration pages: user accounts and service tokens."""
