"""audit-portal: ISO/IEC 27001 control-evidence collection and audit portal."""

__version__ = "0.1.0"
