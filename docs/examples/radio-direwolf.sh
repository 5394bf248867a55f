#!/usr/bin/env bash
# The radio guide's worked example (docs/radio.md): two real Direwolf software modems (1200 bit/s
# AFSK, AX.25 HDLC framing) whose audio crosses a veth as UDP, each with a KISS TCP port; a tunshape
# pump on each side moves IP packets between a tun device and its modem's KISS port; the ax25-1200-afsk
# profile shapes both tun devices; ping crosses the radio link. Everything lives in two throwaway
# network namespaces and is removed on exit. Needs root, direwolf, socat and iputils-ping.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$(dirname "$0")/../.." && pwd)
ts="$top/bin/tunshape"
A=tsg-radio-a-$$ B=tsg-radio-b-$$
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    ip netns del "$A" 2>/dev/null || true
    ip netns del "$B" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
for c in direwolf socat ping; do command -v $c >/dev/null || { echo "radio-direwolf: needs $c" >&2; exit 1; }; done

# two namespaces; a veth between them carries only the modems' audio (UDP, 44.1 kHz 16-bit samples)
ip netns add "$A"; ip netns add "$B"
ip link add dwa type veth peer name dwb
ip link set dwa netns "$A"; ip link set dwb netns "$B"
ip -n "$A" addr add 198.18.250.1/30 dev dwa; ip -n "$B" addr add 198.18.250.2/30 dev dwb
for n in "$A" "$B"; do ip -n "$n" link set lo up; done
ip -n "$A" link set dwa up; ip -n "$B" link set dwb up

# a modem per side: audio in on UDP port 7355 (Direwolf's own UDP input); audio out through ALSA's
# file plugin into audio-link.py, which paces it in real time to the other side's port 7355 in 10 ms
# datagrams (Direwolf reads at most 2000 bytes of one). FULLDUP: the audio stream stops between
# transmissions, so the receiver's carrier detect would otherwise stay on and it would never send.
modem() {  # ns name peer-address
    cat > "$work/$2.asoundrc" <<CONF
pcm.radio { type file; slave.pcm "null"; file "|exec python3 $here/audio-link.py $3 7355 44100"; format "raw" }
CONF
    cat > "$work/$2.conf" <<CONF
ADEVICE radio
ACHANNELS 1
ARATE 44100
CHANNEL 0
MYCALL N0CALL
MODEM 1200
TXDELAY 20
FULLDUP ON
KISSPORT 8001
AGWPORT 0
CONF
    ALSA_CONFIG_PATH=/usr/share/alsa/alsa.conf:$work/$2.asoundrc \
        ip netns exec "$1" direwolf -c "$work/$2.conf" -t 0 -q hd UDP:7355 > "$work/$2.log" 2>&1 &
    pids+=($!)
}
modem "$A" a 198.18.250.2
modem "$B" b 198.18.250.1
for n in "$A" "$B"; do
    for i in $(seq 50); do ip netns exec "$n" socat -u /dev/null TCP:127.0.0.1:8001 2>/dev/null && break; sleep 0.2; done
done

# a pump per side: tun device radio0 <-> the modem's KISS TCP port
pump() {  # ns side
    "$ts" --netns "$1" pump --dev radio0 --create --backend tcp:127.0.0.1:8001 --framing kiss \
        > "$work/pump-$2.log" 2>&1 &
    pids+=($!)
    for i in $(seq 100); do ip -n "$1" link show radio0 >/dev/null 2>&1 && break; sleep 0.1; done
}
pump "$A" a; pump "$B" b
# the profile's MTU: AX.25 links carry 256-byte frames
ip -n "$A" addr add 198.18.251.1 peer 198.18.251.2 dev radio0; ip -n "$A" link set radio0 mtu 256 up
ip -n "$B" addr add 198.18.251.2 peer 198.18.251.1 dev radio0; ip -n "$B" link set radio0 mtu 256 up

echo "== shape both ends to the modem's rate"
"$ts" --netns "$A" apply radio0 -p ax25-1200-afsk
"$ts" --netns "$B" apply radio0 -p ax25-1200-afsk
echo "== ping across the radio link (1200 bit/s AFSK; each packet is a few hundred ms of audio)"
if ! ip netns exec "$A" ping -c 3 -i 2 -W 10 -s 16 198.18.251.2; then
    for f in "$work"/*.log; do echo "--- $f"; echo "tx $(grep -c "^\[0L\]" "$f") rx $(grep -c "^\[0\." "$f")"; tail -n 3 "$f"; done
    ip -n "$A" -s link show radio0; ip -n "$B" -s link show radio0
    exit 1
fi
echo "== what the kernel holds"
"$ts" --netns "$A" show radio0
echo "== what the modems heard"
grep -c "Not AX.25" "$work/b.log" | sed 's/^/frames heard by modem b: /'
