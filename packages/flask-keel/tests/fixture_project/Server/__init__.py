"""The fixture project's Server package."""
