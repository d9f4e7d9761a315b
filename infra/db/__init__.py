"""PostgreSQL persistence: tables, row mappers, repositories and the unit of work."""
