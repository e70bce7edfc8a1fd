"""How the participants are split into the Map's batches, and the S3 manifest the Map reads them from."""

from __future__ import annotations

import json
import math

# Each Map slot should get several batches, so that a slow batch holds the end back by a fraction of a slot's work.
BATCHES_PER_SLOT = 4


def plan_batches(keys: list[str], concurrency: int, max_per_batch: int) -> list[list[str]]:
    """Splits the participants into the Map's items. A batch is enrolled one participant after the other, so
    the Map's MaxConcurrency stays the number of participants in flight with Moodle. Batches are as large as
    keeps every slot busy (one Map item, one child execution and one Lambda invocation cost more than the
    participant's own work in Step Functions transitions and cold starts) and striped, so each holds a
    similar mix of new and existing accounts."""
    if not keys:
        return []
    size = max(1, min(max_per_batch, math.ceil(len(keys) / (concurrency * BATCHES_PER_SLOT))))
    count = math.ceil(len(keys) / size)
    return [keys[start::count] for start in range(count)]


def write_manifest(bucket: str, key: str, batches: list[list[str]]) -> None:
    import boto3

    boto3.client("s3").put_object(
        Bucket=bucket, Key=key, Body=json.dumps(batches).encode(), ContentType="application/json"
    )
