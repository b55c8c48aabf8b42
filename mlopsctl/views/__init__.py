"""Views of results: plans, diagnostics, promotions and the platform, as text, JSON, Markdown and more."""
