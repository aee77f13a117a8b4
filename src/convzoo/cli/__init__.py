"""The ``convzoo`` command: thin wrappers over the library."""
