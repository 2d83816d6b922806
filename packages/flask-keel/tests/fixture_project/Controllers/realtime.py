from flask_keel.realtime import authorize_connection


def connect(auth=None):
    authorize_connection(auth)
