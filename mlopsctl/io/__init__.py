"""Reading and writing files: atomic writes, YAML and JSON output, git."""
