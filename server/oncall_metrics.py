"""The metrics an on-call engineer needs beyond requests and latency: is a gateway cut off
(circuit), is work piling up (retries, operations of unknown outcome, consumer lag), are
messages being given up on (dead letters), is the database pool exhausted.

Counters count events in this process (summed over workers). Gauges are set at scrape time
(server/metrics_scrape.py): those read from PostgreSQL report the most recent reading, those
of a process (its pool, its consumer's partitions, its breaker's view) are summed or maxed
over the live workers."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge


class OnCallMetrics:
    def __init__(self, r: CollectorRegistry) -> None:
        self.circuit_open = Gauge(
            "payments_circuit_open",
            "1 while the gateway's circuit breaker is open (calls skip it), else 0",
            ["gateway"],
            registry=r,
            multiprocess_mode="livemax",
        )
        # Retries (domain/usecases/retry_worker.py): the schedule is read from the database,
        # the runs are counted by the process that ran them.
        self.retries_scheduled = Gauge(
            "payments_retries_scheduled",
            "Automatic retries waiting in the schedule (from the database)",
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self.retries_overdue = Gauge(
            "payments_retries_overdue_seconds",
            "How long the most overdue scheduled retry has been due (0 when none)",
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self.retries_run = Counter(
            "payments_retries_run",
            "Scheduled retries run, by outcome (succeeded, rescheduled, ended, deferred)",
            ["outcome"],
            registry=r,
        )
        self.open_operations = Gauge(
            "payments_open_operations",
            "Gateway operations not settled yet: PENDING (in flight) or UNKNOWN (outcome "
            "unknown, left to the reconciler) (from the database)",
            ["status"],
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self.open_operation_age = Gauge(
            "payments_open_operation_age_seconds",
            "Age of the oldest open gateway operation (0 when none)",
            registry=r,
            multiprocess_mode="mostrecent",
        )
        self.dead_lettered = Counter(
            "payments_order_events_dead_lettered",
            "Order events sent to the dead-letter topic, by the topic they came from",
            ["topic"],
            registry=r,
        )
        self.consumer_lag = Gauge(
            "payments_order_events_consumer_lag",
            "Records of the order topics not yet consumed by this service's group (end offset "
            "minus committed offset, over the partitions assigned to live workers)",
            ["topic"],
            registry=r,
            multiprocess_mode="livesum",
        )
        self.db_pool_in_use = Gauge(
            "payments_db_pool_in_use",
            "Database connections checked out of the request pool",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.db_pool_waiting = Gauge(
            "payments_db_pool_waiting",
            "Tasks waiting for a connection because the request pool is exhausted",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.db_pool_capacity = Gauge(
            "payments_db_pool_capacity",
            "Most connections the request pool opens (DB_POOL_SIZE plus its overflow)",
            registry=r,
            multiprocess_mode="livesum",
        )
