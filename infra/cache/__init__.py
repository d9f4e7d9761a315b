"""Redis: a cache in front of PostgreSQL, never the source of truth."""

from infra.cache.redis import RedisHealth, make_redis

__all__ = ["RedisHealth", "make_redis"]
