"""Evidence requests: an auditor's question on a control or requirement that IT answers with evidence."""
