"""The Pulumi program that creates a compiled resource graph (imports the Pulumi SDKs lazily)."""
