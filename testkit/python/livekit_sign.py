#!/usr/bin/env python3
"""Make LiveKit webhooks the way a LiveKit server does, with LiveKit's own
Python packages (livekit-api, livekit-protocol): the body is a protobuf
`WebhookEvent` in proto3 JSON, the Authorization header a JWT signed with the
API secret whose `sha256` claim is the base64 sha256 of the body.

Reads a JSON list of specs on stdin and prints a JSON list of
{"body": ..., "authorization": ...}. A spec: event, id, room, room_sid,
participant, participant_sid, track (sid), and optionally secret (another
secret), ttl_s (negative = expired), tamper (change the body after signing),
no_auth, kind ("AUDIO"/"VIDEO"), source (a TrackSource name, default
MICROPHONE), participant_kind (a ParticipantInfo.Kind name: "AGENT", "SIP",
...), defaults (print default-valued fields)."""
import base64
import datetime
import hashlib
import json
import sys

from google.protobuf.json_format import MessageToJson
from livekit.api import AccessToken
from livekit.protocol import models, webhook

KEY = "devkey"


def body_of(spec: dict) -> str:
    e = webhook.WebhookEvent(event=spec["event"], id=spec["id"], created_at=int(spec.get("created_at", 1702563000)))
    if spec.get("room"):
        e.room.name = spec["room"]
        e.room.sid = spec.get("room_sid", "RM_" + spec["room"])
        e.room.creation_time = 1702563000
    if spec.get("participant"):
        e.participant.identity = spec["participant"]
        e.participant.sid = spec.get("participant_sid", "PA_" + spec["participant"])
        e.participant.state = models.ParticipantInfo.ACTIVE
        if spec.get("participant_kind"):
            e.participant.kind = models.ParticipantInfo.Kind.Value(spec["participant_kind"])
    if spec.get("track"):
        e.track.sid = spec["track"]
        e.track.type = models.TrackType.Value(spec.get("kind", "AUDIO"))
        e.track.source = models.TrackSource.Value(spec.get("source", "MICROPHONE"))
        e.track.mime_type = "audio/opus"
    kwargs = {}
    if spec.get("defaults"):
        # protobuf >= 5 renamed including_default_value_fields
        try:
            return MessageToJson(e, indent=None, always_print_fields_with_no_presence=True)
        except TypeError:
            kwargs["including_default_value_fields"] = True
    return MessageToJson(e, indent=None, **kwargs)


def main() -> int:
    out = []
    for spec in json.load(sys.stdin):
        secret = spec.get("secret", "a-long-enough-development-secret")
        body = body_of(spec)
        digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        token = AccessToken(KEY, secret).with_sha256(digest)
        if "ttl_s" in spec:
            token = token.with_ttl(datetime.timedelta(seconds=spec["ttl_s"]))
        jwt = token.to_jwt()
        if spec.get("tamper"):
            body = body.replace(spec["participant"], spec["participant"] + "-evil")
        out.append({"body": body, "authorization": None if spec.get("no_auth") else jwt})
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
