"""The protocol authoring API: the @protocol decorator (metadata only)."""
