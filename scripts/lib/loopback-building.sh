# Sourced by scripts that run a real gatewayd against a simulated building (devsim), everything on
# 127.0.0.1 on free ports. The caller sets `bin_dir` (a build tree, e.g. build/release) and stops
# what it started, by the pids these functions leave in sim_pid and gw_pid.

# wait_for_line FILE PATTERN PID [SECONDS]: returns once FILE has a line matching PATTERN; fails,
# showing FILE, when PID exits first or after SECONDS (default 10).
wait_for_line() {
  local file="$1" pattern="$2" pid="$3" deadline=$((SECONDS + ${4:-10}))
  until grep -q "$pattern" "$file" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
      echo "no '$pattern' in $file (process $pid exited or took too long):" >&2
      cat "$file" >&2 || true
      return 1
    fi
    sleep 0.1
  done
}

# start_devsim DIR: a SunSpec PV inverter (unit 1), battery (2) and grid meter (3) on Modbus TCP at
# 127.0.0.1 on a free port. Sets sim_pid and sim_port; logs to DIR/devsim.log.
start_devsim() {
  local dir="$1"
  "$bin_dir/tests/sim/devsim" --tcp 127.0.0.1:0 --device 1=inverter --device 2=battery \
    --device 3=meter --start-hour 12 >"$dir/devsim.log" 2>&1 &
  sim_pid=$!
  wait_for_line "$dir/devsim.log" "listening tcp" "$sim_pid"
  sim_port="$(sed -n 's/.*listening tcp 127.0.0.1:\([0-9]*\).*/\1/p' "$dir/devsim.log")"
}

# write_building_config FILE SITE_ID: a configuration whose one bus is the devsim of start_devsim.
write_building_config() {
  cat >"$1" <<TOML
[site]
id = "$2"

[[buses]]
id = "lan"
type = "tcp"
host = "127.0.0.1"
port = $sim_port

[[devices]]
id = "pv1"
kind = "inverter"
bus = "lan"
unit_id = 1
profile = "sunspec"

[[devices]]
id = "battery"
kind = "battery"
bus = "lan"
unit_id = 2
profile = "sunspec"

[[devices]]
id = "grid"
kind = "meter"
bus = "lan"
unit_id = 3
profile = "sunspec"
TOML
}

# start_gatewayd CONFIG DATA_DIR: gatewayd with its API on 127.0.0.1 on a free port. Sets gw_pid
# and gw_base (http://127.0.0.1:PORT); logs to DATA_DIR/gatewayd.log.
start_gatewayd() {
  local config="$1" data="$2"
  "$bin_dir/gateway/gatewayd" run --config "$config" --data-dir "$data" \
    --api-listen 127.0.0.1:0 2>"$data/gatewayd.log" &
  gw_pid=$!
  wait_for_line "$data/gatewayd.log" "ready" "$gw_pid"
  gw_base="http://$(sed -n 's/.*API listening on \([0-9.]*:[0-9]*\).*/\1/p' "$data/gatewayd.log" | tail -n 1)"
}

# wait_for_healthy BASE PID [SECONDS]: returns once GET BASE/api/v1/health says "ok" (every
# enabled device online, the store writable); fails, showing the answer, when PID exits first or
# after SECONDS (default 20).
wait_for_healthy() {
  local base="$1" pid="$2" deadline=$((SECONDS + ${3:-20})) answer=""
  until answer="$(curl -sf "$base/api/v1/health" 2>/dev/null)" &&
    python3 -c 'import json, sys; sys.exit(json.load(sys.stdin)["status"] != "ok")' <<<"$answer"; do
    if ! kill -0 "$pid" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
      echo "gatewayd at $base is not healthy (process $pid exited or took too long): $answer" >&2
      return 1
    fi
    sleep 0.1
  done
}
