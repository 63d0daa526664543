"""A relational database as a source (`kind = "sql"`): SQLAlchemy Core, imported only
when a sql source is configured. `mapping` is what to read; `source` reads it."""
