"""The host agent: runs collector instances on the host they inspect and pushes the results to
the portal. It imports no web framework, database driver or portal service, so a host installs
only the agent set of packages (``pip install audit-portal``, without the ``portal`` extra).

Every run is first written to a local spool; delivery takes the spool's entries oldest first,
so a run made while the portal is down is delivered by a later invocation. Each delivery is
sealed (``seal.py``): the portal refuses a replayed or altered push."""
