"""The fixture project's Controllers package."""
