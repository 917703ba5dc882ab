"""Settings and the data a deployer edits.

The YAML files beside this module (agencies, categories, messages, holidays,
lifecycle) are the shipped defaults; a deployer points ``LAPOR_CONFIG_DIR`` at a
folder holding their own copies, and any file missing there falls back to the
shipped one. Python code here only loads; it imports nothing else of ours.
"""

from config.loader import config_dirs, load_yaml

__all__ = ["config_dirs", "load_yaml"]
