# Sourced by scale.sh, soak.sh and node-bench.sh: builds arc-agent in
# $PROFILE (release by default, or dev) into $bin (ARC_BIN=path: that binary), makes a scratch $work
# (removed at exit), and starts a pulsar-lite of its own on $port.
# free_port (lib/free-port.sh) prints a free TCP port on 127.0.0.1.
. "$(dirname "${BASH_SOURCE[0]}")/free-port.sh"

PROFILE=${PROFILE:-release}
if [ -n "${ARC_BIN:-}" ]; then
  # A binary built elsewhere (an A/B of two commits: build each, copy it out).
  bin=$ARC_BIN
elif [ "$PROFILE" = release ]; then
  cargo build --locked --release --bin arc-agent
  bin=${CARGO_TARGET_DIR:-target}/release/arc-agent
else
  cargo build --locked --bin arc-agent
  bin=${CARGO_TARGET_DIR:-target}/debug/arc-agent
fi

work=$(mktemp -d)
pulsar_pid=
cleanup() { [ -n "$pulsar_pid" ] && kill "$pulsar_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
lite=$(python3 -c "import pulsar_lite,os;print(os.path.join(os.path.dirname(pulsar_lite.__file__),'bin','pulsar-lite'))")
port=$(free_port)
"$lite" --addr "127.0.0.1:$port" --db-path "$work/pulsar" >"$work/pulsar.log" 2>&1 &
pulsar_pid=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done

# The plots (scale-plot.py, soak-plot.py) need matplotlib: exact version, once.
python3 -c 'import matplotlib' 2>/dev/null ||
  python3 -m pip install -q --disable-pip-version-check matplotlib==3.9.2
