"""Store: SQLAlchemy 2 models and the queries the service needs."""
