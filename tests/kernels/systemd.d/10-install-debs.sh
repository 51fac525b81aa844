# The .debs the test command built install on a systemd system: the units are
# enabled, nothing is started (--no-start), /run/rocker exists (tmpfiles).
dpkg -i "$MATRIX_DEBS"/librocker-client0_*.deb "$MATRIX_DEBS"/librocker-client-dev_*.deb "$MATRIX_DEBS"/rockerd_*.deb
for p in librocker-client0 librocker-client-dev rockerd; do
        dpkg-query -W -f='${Status}\n' "$p" | grep -qx 'install ok installed'
done
systemctl is-enabled rockerd.socket
systemctl is-enabled rockerd.service
not systemctl is-active rockerd.service
not systemctl is-active rockerd.socket
test -d /run/rocker/state
