"""Storage: the engine and sessions, the schema, and the migrations."""
