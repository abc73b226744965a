#!/usr/bin/env python3
"""Mint LiveKit access tokens with LiveKit's own Python SDK (livekit-api), as
an operator's backend does. Reads a JSON list of specs on stdin and prints a
JSON list of JWTs. A spec: key (default "devkey"), secret, identity, grants
(VideoGrants fields, e.g. {"room_admin": true}), ttl_s (negative = expired)."""
import datetime
import json
import sys

from livekit.api import AccessToken, VideoGrants


def main() -> int:
    out = []
    for spec in json.load(sys.stdin):
        token = AccessToken(spec.get("key", "devkey"), spec["secret"])
        token = token.with_identity(spec.get("identity", "operator-backend"))
        token = token.with_grants(VideoGrants(**spec.get("grants", {})))
        if "ttl_s" in spec:
            token = token.with_ttl(datetime.timedelta(seconds=spec["ttl_s"]))
        out.append(token.to_jwt())
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
