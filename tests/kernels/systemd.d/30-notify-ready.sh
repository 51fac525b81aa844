# Type=notify: "systemctl start/restart" returns once rockerd sent READY=1,
# so the service is active with its main pid right after, and it answers.
[ "$(systemctl show -P Type rockerd.service)" = notify ]
systemctl restart rockerd.service
[ "$(systemctl show -P ActiveState rockerd.service)" = active ]
[ "$(systemctl show -P SubState rockerd.service)" = running ]
pid=$(systemctl show -P MainPID rockerd.service)
[ "$pid" -gt 0 ]
grep -qx rockerd "/proc/$pid/comm"
[ "$(rocker ps --json)" = "[]" ]
