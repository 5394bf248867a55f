# Sourced by bench scripts (not a benchmark itself: BenchSmallIT runs only bench/*.sh).
# tun_ns NS: a new network namespace NS with lo up and a persistent tun t0, 198.18.0.1 -> 198.18.0.2,
# IPv6 off on it (no router solicitations in the counts), up.
tun_ns() {
    ip netns add "$1"
    ip -n "$1" link set lo up
    ip -n "$1" tuntap add dev t0 mode tun
    ip netns exec "$1" sysctl -q -w net.ipv6.conf.t0.disable_ipv6=1
    ip -n "$1" addr add 198.18.0.1 peer 198.18.0.2 dev t0
    ip -n "$1" link set t0 up
}
