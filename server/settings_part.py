"""What every part of the settings is (server/config.py): environment variables read flat,
without a prefix, and a `problems()` list that refuses the part when not empty - alone or
summed into `Settings`, whose own `problems()` adds the checks that span parts."""

from __future__ import annotations

from typing import Self

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingsPart(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    def problems(self) -> list[str]:
        """What is wrong with these settings, one sentence per problem naming the variable."""
        return []

    @model_validator(mode="after")
    def _no_problems(self) -> Self:
        # Every problem at once: an operator fixes them in one go, not one per restart.
        problems = self.problems()
        if problems:
            raise ValueError("\n".join(problems))
        return self
