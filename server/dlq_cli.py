"""`payment-service dlq list | replay`: the order events that the consumer dead-lettered
(`<KAFKA_TOPIC_ORDER_EVENTS>.dlq`, infra/messaging/consumer.py).

- `list [--format table|json]`: partition, offset, event id, when, the original topic and the
  reason, for every record on the dead-letter topic. Reads only (no consumer group).
- `replay (--from-offset N [--to-offset M] | --event-id ID) [--partition P] [--dry-run]`:
  sends the chosen records back to the topic they came from; progress on stderr. Replaying
  is idempotent: the consumer's inbox skips an event id whose effect is already committed.
Exit status 0; 1 when nothing matched a replay's selection; 2 when the broker is unreachable.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from aiokafka.errors import KafkaError

from infra.messaging.dead_letters import DeadLetter, DeadLetterSelection, DeadLetterTopic
from server.config import Settings
from server.progress import StderrProgress
from server.transport import kafka_security

EXIT_NOTHING_MATCHED = 1
EXIT_CANNOT_RUN = 2
REASON_WIDTH = 80


def _offset(text: str) -> int:
    number = int(text)
    if number < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return number


def add_dlq_commands(sub: Any) -> None:
    dlq = sub.add_parser("dlq", help="the order events' dead-letter topic")
    commands = dlq.add_subparsers(dest="dlq_command", required=True)
    listing = commands.add_parser("list", help="every dead-lettered record")
    listing.add_argument("--format", choices=["table", "json"], default="table")
    replay = commands.add_parser("replay", help="send records back to their original topic")
    which = replay.add_mutually_exclusive_group(required=True)
    which.add_argument("--from-offset", type=_offset)
    which.add_argument("--event-id")
    replay.add_argument("--to-offset", type=_offset, help="inclusive (default: the last)")
    replay.add_argument("--partition", type=_offset, help="default: every partition")
    replay.add_argument("--dry-run", action="store_true", help="show what would be replayed")


def letter_json(letter: DeadLetter) -> dict[str, Any]:
    return {
        "partition": letter.partition,
        "offset": letter.offset,
        "eventId": letter.event_id,
        "time": letter.timestamp.isoformat(),
        "originalTopic": letter.original_topic,
        "errorType": letter.header("error_type"),
        "reason": letter.reason,
    }


def letters_table(letters: list[DeadLetter]) -> str:
    lines = [f"{'PART':>4}  {'OFFSET':>8}  {'EVENT ID':<36}  {'TIME':<25}  {'TOPIC':<20}  REASON"]
    for d in letters:
        reason = d.reason.replace("\n", " ")[:REASON_WIDTH]
        lines.append(
            f"{d.partition:>4}  {d.offset:>8}  {d.event_id or '-':<36}  "
            f"{d.timestamp.isoformat(timespec='seconds'):<25}  {d.original_topic or '-':<20}  "
            f"{reason}"
        )
    lines.append(f"{len(letters)} dead-lettered record(s)")
    return "\n".join(lines)


def dead_letter_topic(settings: Settings) -> DeadLetterTopic:
    return DeadLetterTopic(
        settings.kafka_broker_list(),
        settings.order_topics().dead_letter,
        client_id=f"{settings.kafka_client_id}-dlq-cli",
        security=kafka_security(settings),
        enable_idempotence=settings.kafka_enable_idempotence,
    )


async def list_letters(args: argparse.Namespace, topic: DeadLetterTopic) -> int:
    letters = await topic.read()
    if args.format == "json":
        print(json.dumps([letter_json(d) for d in letters]))
    else:
        print(letters_table(letters))
    return 0


async def replay_letters(args: argparse.Namespace, topic: DeadLetterTopic) -> int:
    select = DeadLetterSelection(args.event_id, args.from_offset, args.to_offset, args.partition)
    chosen = [d for d in await topic.read() if select(d)]
    if not chosen:
        print("no dead-lettered record matches", file=sys.stderr)
        return EXIT_NOTHING_MATCHED
    if args.dry_run:
        print(letters_table(chosen))
        return 0
    sent = await topic.replay(chosen, StderrProgress("dlq replay").step)
    print(f"replayed {sent} of {len(chosen)} record(s) from {topic.topic}")
    return 0


def run_dlq(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.kafka_configured:
        print("KAFKA_BROKERS is not set", file=sys.stderr)
        return EXIT_CANNOT_RUN
    topic = dead_letter_topic(settings)
    run = list_letters if args.dlq_command == "list" else replay_letters
    try:
        return asyncio.run(run(args, topic))
    except (OSError, TimeoutError, KafkaError) as exc:
        print(f"cannot read {topic.topic}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_CANNOT_RUN
