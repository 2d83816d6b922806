"""The fixture project's Models/Persistent package."""
