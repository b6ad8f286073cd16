"""authserver's dependencies; everything else about the project is in pyproject.toml.

They live here because one of them cannot be written there: resource-guard is the
``resource-guard/`` folder of this checkout, and a PEP 508 direct reference needs an absolute
``file:`` URL. Naming it by path means installing the server never fetches some other
project called resource-guard from an index.
"""

from pathlib import Path

from setuptools import setup

RESOURCE_GUARD = (Path(__file__).resolve().parent / "resource-guard").as_uri()

setup(
    install_requires=[
        f"resource-guard @ {RESOURCE_GUARD}",
        "authlib>=1.6,<1.10",  # grants and endpoints subclass Authlib internals
        "joserfc>=1.0,<2",  # JWS signing and JWK handling (also what Authlib uses)
        "flask>=3.0",
        "werkzeug>=3.0",
        "click>=8.1",
        "flask-sqlalchemy>=3.1",
        "flask-migrate>=4.0",
        "alembic>=1.13",
        "sqlalchemy>=2.0",
        "cryptography>=42",
        "argon2-cffi>=23.1",
        "psycopg[binary]>=3.1",
        "granian>=2.8,<3",  # authserver serve's default HTTP server
        "gunicorn>=22",  # authserver serve --server gunicorn
    ],
)
