# journald keeps the structured fields rockerd logs (src/server/log.c) for a
# rocker's start and end.
systemctl start rockerd.socket
since=$(date '+%Y-%m-%d %H:%M:%S')
out=$("$MATRIX_SEED" "$MATRIX_IMAGE" /var/your_APP/execdir "$MATRIX_WORK/journal-data")
name=$(echo "$out" | sed -n 's/.*rocker guard \(rk-[a-z0-9]*\) .*/\1/p' | head -n1)
echo "guard: $name"
[ -n "$name" ]
journalctl --sync 2>/dev/null || true
for _ in $(seq 50); do
        journalctl -u rockerd.service --since "$since" -o json GUARD_NAME="$name" >"$MATRIX_WORK/journal.json"
        grep -q ' ended' "$MATRIX_WORK/journal.json" && break
        sleep 0.2
done
python3 - "$name" "$MATRIX_WORK/journal.json" <<'PY'
import json, sys
name, path = sys.argv[1], sys.argv[2]
entries = [json.loads(l) for l in open(path) if l.strip()]
start = [e for e in entries if e.get("MESSAGE", "").startswith("rocker %s started" % name)]
end = [e for e in entries if "ended" in e.get("MESSAGE", "")]
assert start, "no start entry for %s in %d entries" % (name, len(entries))
assert end, "no end entry for %s" % name
e = start[0]
for k in ("APP_ID", "GUARD_NAME", "GUARD_PID", "PEER_PID", "PEER_UID", "PRIORITY"):
    assert k in e, "start entry lacks %s: %s" % (k, e)
assert e["GUARD_NAME"] == name and e["APP_ID"] == "1000" and e["PEER_UID"] == "0" and e["PRIORITY"] == "6", e
assert e.get("_SYSTEMD_UNIT") == "rockerd.service", e.get("_SYSTEMD_UNIT")
print("start:", e["MESSAGE"]); print("end:", end[0]["MESSAGE"])
PY
