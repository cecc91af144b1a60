"""Where events are kept: the library's SQLite and PostgreSQL recorders extended with the hash
chain and signatures, the storage DDL, the settings that turn `--db` into a store, and copying."""
