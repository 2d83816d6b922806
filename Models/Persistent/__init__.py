"""Database models, one submodule per database (named by DATABASE.<name>.models)."""
