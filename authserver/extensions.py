"""Extensions created unbound here and bound to an app in ``create_app``."""

from typing import TYPE_CHECKING, ClassVar

from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Table
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    # Every model maps one Table; saying so lets insert() and DirectInsert take ``__table__``.
    __table__: ClassVar[Table]


db = SQLAlchemy(model_class=Base)
migrate = Migrate()

# Models subclass ``Model``: at run time Flask-SQLAlchemy's ``db.Model`` (``Base`` plus its
# table naming and binds), which mypy sees as Any; to mypy it is the typed ``Base``, so
# columns, queries and results are typed.
if TYPE_CHECKING:
    Model = Base
else:
    Model = db.Model
