package io.tunshape.pump;

/**
 * The device's counters the pump reads at each interval's end: tun's tx_packets (frames the pump
 * has read) and tx_dropped (frames its full ring dropped), and the root qdisc's sent packets
 * (frames handed to tun) with its handle and the frames it holds, or -1 for these when the device
 * has no qdisc.
 */
public record DeviceCounters(long txPackets, long txDropped, long qdiscPackets, long qdiscHandle, long qdiscQlen) {
}
