# The vpnos image: one static binary on an empty base. `make image` builds
# bin/vpnos (CGO_ENABLED=0) first; nothing is pulled.
FROM scratch
COPY image/rootfs/ /
COPY image/etc/vpnos/ /etc/vpnos/
COPY bin/vpnos /usr/bin/vpnos
ENV PATH=/usr/bin
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=2s --timeout=2s --start-period=1s --retries=3 CMD ["/usr/bin/vpnos", "health"]
ENTRYPOINT ["/usr/bin/vpnos", "boot"]
