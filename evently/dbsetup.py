"""`python -m evently.dbsetup`: create the configured database if it does not exist."""
import psycopg2
from psycopg2 import sql
from sqlalchemy.engine import make_url

from config import get_config


def ensure_database(url):
    target = make_url(url)
    connection = psycopg2.connect(host=target.host, port=target.port or 5432, user=target.username,
                                  password=target.password, dbname="postgres")
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (target.database,))
        if cursor.fetchone() is None:
            cursor.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(target.database)))
            print(f"created database {target.database}")
    connection.close()


if __name__ == "__main__":
    ensure_database(get_config().SQLALCHEMY_DATABASE_URI)
