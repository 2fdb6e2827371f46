"""The monthly compliance report (PDF and XLSX), kept as evidence of CMP-1."""
