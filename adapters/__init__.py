"""I/O behind the domain's ports: MongoDB, the embedded FerretDB, key sealing, tokens."""
