"""The fixture project's Models package."""
