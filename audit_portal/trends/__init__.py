"""Coverage over time: one stored snapshot per day, framework and group."""
