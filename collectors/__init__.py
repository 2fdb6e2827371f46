"""Evidence collectors: built-in plugins and the contract they share (collectors.base)."""
