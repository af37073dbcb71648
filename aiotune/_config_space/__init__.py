"""Private machinery behind :mod:`aiotune.config_space` (import from there, not from here)."""
