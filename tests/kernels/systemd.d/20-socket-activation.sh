# rockerd.socket holds /run/rocker/rockerd.sock; the first client starts
# rockerd.service (socket activation), which answers it.
systemctl start rockerd.socket
systemctl is-active rockerd.socket
test -S /run/rocker/rockerd.sock
not systemctl is-active rockerd.service
[ "$(rocker ps --json)" = "[]" ]
systemctl is-active rockerd.service
[ "$(systemctl show -P TriggeredBy rockerd.service)" = rockerd.socket ]
