"""The installed version of pcf (``pcf --version``)."""

from __future__ import annotations

from importlib import metadata

try:
    VERSION = metadata.version("pcf-pipeline")
except metadata.PackageNotFoundError:  # a source checkout without the editable install
    VERSION = "0+unknown"
