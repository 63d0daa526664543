"""The replica on PostgreSQL: the tables and targets (`replica`), and the statements a
target runs (`statements`). psycopg is imported with this package."""

from core.replica.postgres.replica import PostgresReplica

__all__ = ["PostgresReplica"]
