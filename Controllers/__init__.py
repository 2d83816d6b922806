"""Your application code: one module or package per feature, each with the
blueprints Server/Web.py and Server/WS.py register."""
