"""PCF pipeline shared library: all logic lives here; functions/ only wire it."""
