"""An amendment's body waits in S3 until its change's turn: an order of 5,000 participants outgrows a DynamoDB item,
and StartChange needs the whole body to compare with the participants as they stand then.

Keys: `revisions/<order_id>/r<revision>-<first 16 hex of the body's SHA-256>.json`, so two bodies of one revision
sent at once never overwrite each other (only one of them is accepted). FinishChange deletes the body once its
change ran; the bucket's lifecycle rule expires any left behind (a body whose change was never accepted).
"""

from __future__ import annotations

import boto3

from seatflow.config import get_settings

from .requests import AmendedOrderBody


def revision_key(order_id: str, revision: int, body_sha256: str) -> str:
    return f"revisions/{order_id}/r{revision:05d}-{body_sha256[:16]}.json"


def put_revision_body(body: AmendedOrderBody, key: str) -> None:
    boto3.client("s3").put_object(
        Bucket=get_settings().manifest_bucket,
        Key=key,
        Body=body.model_dump_json(exclude_none=True).encode(),
        ContentType="application/json",
    )


def read_revision_body(key: str) -> AmendedOrderBody:
    answer = boto3.client("s3").get_object(Bucket=get_settings().manifest_bucket, Key=key)
    return AmendedOrderBody.model_validate_json(answer["Body"].read())


def delete_revision_body(key: str) -> None:
    boto3.client("s3").delete_object(Bucket=get_settings().manifest_bucket, Key=key)
