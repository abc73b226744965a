"""The Pulsar client the test helpers share. Its C++ log goes to stderr:
pulsar.ConsoleLogger writes to stdout, where a stray "Connection already
disconnected" line once broke a helper's output (which the tests parse) in
CI. A C++ file logger rather than Python's logging, which the client drops
for its default (stdout) logger while the interpreter shuts down."""
import pulsar


def connect(url: str) -> pulsar.Client:
    return pulsar.Client(
        url,
        operation_timeout_seconds=10,
        logger=pulsar.FileLogger(pulsar.LoggerLevel.Error, "/dev/stderr"),
    )
