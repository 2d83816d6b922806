"""The fixture project's Models/Forms package."""
