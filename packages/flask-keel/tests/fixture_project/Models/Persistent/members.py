from flask_keel.db import AuthorizedUser, db


class Member(AuthorizedUser, db.Model):
    __tablename__ = "members"
