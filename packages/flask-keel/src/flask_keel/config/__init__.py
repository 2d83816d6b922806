"""The config system: YAML/JSON files with `${ENV}` values, validated into Settings."""

from flask_keel.config.loader import ConfigError, Settings, config_path, load_settings, project_root

__all__ = ["ConfigError", "Settings", "config_path", "load_settings", "project_root"]
