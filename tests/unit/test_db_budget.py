"""The connection budget of `serve --workers N` (server/db_budget.py): what is left unset is
fitted into the database's connections, what is set by hand and does not fit is refused."""

from __future__ import annotations

import pytest

from server.db_budget import BudgetError, budget_for, connections_per_worker, plan
from tests.support.servers import settings_for_tests


def test_one_worker_keeps_the_default_pool_where_it_fits() -> None:
    budget = plan(workers=1, pool_size=None, allowed=97, basis="b", cpus=1)
    assert (budget.workers, budget.pool_size) == (1, 20)
    assert budget.total == 43  # 20 pooled + 20 overflow + health 2 + lease 1


def test_unset_pool_shrinks_to_share_the_connections_between_workers() -> None:
    budget = plan(workers=None, pool_size=None, allowed=97, basis="b", cpus=16)
    assert budget.workers == 16
    assert budget.pool_size == 1  # 97 // 16 = 6 per worker: 2 x 1 + 3 = 5
    assert budget.total <= 97


def test_unset_workers_are_fewer_than_the_cpus_when_not_even_a_pool_of_one_fits() -> None:
    budget = plan(workers=None, pool_size=None, allowed=20, basis="b", cpus=64)
    assert budget.workers == 20 // connections_per_worker(1)
    assert budget.total <= 20


def test_a_pool_set_by_hand_that_does_not_fit_is_refused_naming_the_numbers() -> None:
    with pytest.raises(BudgetError) as refused:
        plan(workers=4, pool_size=20, allowed=97, basis="b", cpus=4)
    assert "4 worker(s) x (2 x pool 20 + 3) = 172 connections of 97 allowed" in str(refused.value)


def test_workers_set_by_hand_that_cannot_each_have_a_pool_are_refused() -> None:
    with pytest.raises(BudgetError):
        plan(workers=30, pool_size=None, allowed=97, basis="b", cpus=2)


def test_an_assumed_allowance_only_warns(caplog: pytest.LogCaptureFixture) -> None:
    budget = plan(workers=4, pool_size=20, allowed=97, basis="b", cpus=4, strict=False)
    assert budget.total == 172
    assert "not checked against the database" in caplog.text


def test_replicas_divide_what_the_database_reports() -> None:
    settings = settings_for_tests(db_replicas=4, server_workers=2)
    settings = settings.model_copy(update={"db_pool_size": 20})  # not set by hand
    settings.model_fields_set.discard("db_pool_size")
    budget = budget_for(settings, None, database_available=197)
    assert budget.allowed == 49
    assert budget.total <= 49 and budget.workers == 2


def test_db_max_connections_beyond_the_replicas_share_is_refused() -> None:
    settings = settings_for_tests(db_max_connections=60, db_replicas=2)
    with pytest.raises(BudgetError) as refused:
        budget_for(settings, 1, database_available=97)
    assert "DB_MAX_CONNECTIONS=60" in str(refused.value)


def test_workers_from_the_command_line_win_over_the_setting() -> None:
    settings = settings_for_tests(server_workers=8, db_max_connections=40)
    assert budget_for(settings, 2, database_available=97).workers == 2
