"""`python -m evently.dbsetup`: create the configured database if it does not exist.

Also used by the tests and benchmarks to (re)create their own databases.
"""
from contextlib import closing

import psycopg2
from psycopg2 import sql
from sqlalchemy.engine import make_url

from config import get_config


def _maintenance_connection(target):
    connection = psycopg2.connect(host=target.host, port=target.port or 5432, user=target.username,
                                  password=target.password, dbname="postgres")
    connection.autocommit = True
    return connection


def ensure_database(url):
    """Create the database named in `url` unless it exists."""
    target = make_url(url)
    with closing(_maintenance_connection(target)) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (target.database,))
        if cursor.fetchone() is None:
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(target.database)))
            print(f"created database {target.database}")


def recreate_database(url):
    """Drop (disconnecting its sessions) and create the database named in `url`. Destroys its data."""
    target = make_url(url)
    with closing(_maintenance_connection(target)) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                       "WHERE datname = %s AND pid <> pg_backend_pid()", (target.database,))
        cursor.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(target.database)))
        cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(target.database)))


if __name__ == "__main__":
    ensure_database(get_config().SQLALCHEMY_DATABASE_URI)
