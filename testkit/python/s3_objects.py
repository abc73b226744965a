#!/usr/bin/env python3
"""An S3 client independent of ARC (boto3) for the tests:
  s3_objects.py ENDPOINT create BUCKET
  s3_objects.py ENDPOINT download BUCKET DIR   (prints each key)"""
import os
import sys

import boto3


def main() -> int:
    endpoint, command, bucket = sys.argv[1], sys.argv[2], sys.argv[3]
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                      aws_access_key_id="arc-test", aws_secret_access_key="arc-test-secret")
    if command == "create":
        s3.create_bucket(Bucket=bucket)
        return 0
    if command == "download":
        out = sys.argv[4]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                key = obj["Key"]
                path = os.path.join(out, key)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                s3.download_file(bucket, key, path)
                print(key)
        return 0
    print(f"unknown command {command}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
