package io.tunshape.tc;

import io.tunshape.netlink.Message;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/** The u32 fallback's model: its hash, its objects through the codec and back, and what is recognised as it. */
class U32FlowHashTest {
    private static final int MAJOR = 0x7474;

    private static List<U32Node> throughCodec(List<U32Node> nodes) {
        List<U32Node> out = new ArrayList<>();
        for (U32Node n : nodes) {
            byte[] b = TcCodec.u32Node(TcClient.ADD, 3, Handle.of(MAJOR, 0), n).toBytes(1);
            out.add(TcCodec.decodeU32Node(new Message(b)));
        }
        return out;
    }

    @Test
    void theHashIsSourcePortBitsOneUpModuloTheBuckets() {
        U32FlowHash h = new U32FlowHash(4, 0x100, Tc.FLOW_FILTER_PRIO);
        // as measured with tc on this kernel: 40000 and 40001 -> 100, 40002 -> 101, 40004 -> 102, 40006 -> 103
        assertEquals(0, h.queueOfSourcePort(40000));
        assertEquals(0, h.queueOfSourcePort(40001));
        assertEquals(1, h.queueOfSourcePort(40002));
        assertEquals(2, h.queueOfSourcePort(40004));
        assertEquals(3, h.queueOfSourcePort(40006));
        assertEquals(0, h.queueOfSourcePort(40008));
        U32FlowHash five = new U32FlowHash(5, 0x100, Tc.FLOW_FILTER_PRIO);
        assertEquals(8, five.buckets());
        assertEquals(0x100, five.classOf(5), "bucket 5 of 8 shares queue 0 of 5");
        assertEquals(256, new U32FlowHash(1024, 0x100, Tc.FLOW_FILTER_PRIO).buckets());
    }

    @Test
    void objectsSurviveTheCodecAndAreRecognised() {
        for (int n : new int[] {2, 5, 16, 256}) {
            U32FlowHash h = new U32FlowHash(n, 0x100, Tc.FLOW_FILTER_PRIO);
            List<U32Node> nodes = h.nodes(MAJOR);
            assertEquals(2 * (h.buckets() + 5), nodes.size());
            List<U32Node> back = throughCodec(nodes);
            assertEquals(nodes, back);
            assertEquals(h, U32FlowHash.recognise(back, MAJOR, Tc.FLOW_FILTER_PRIO));
        }
    }

    @Test
    void aMissingOrForeignObjectIsNotRecognised() {
        U32FlowHash h = new U32FlowHash(8, 0x100, Tc.FLOW_FILTER_PRIO);
        List<U32Node> nodes = new ArrayList<>(h.nodes(MAJOR));
        List<U32Node> missing = new ArrayList<>(nodes);
        missing.remove(5);
        assertNull(U32FlowHash.recognise(missing, MAJOR, Tc.FLOW_FILTER_PRIO));
        List<U32Node> extra = new ArrayList<>(nodes);
        extra.add(U32Node.key(Tc.FLOW_FILTER_PRIO, U32Filter.ETH_P_IP, 0, 0, nodes.get(nodes.size() - 1).sel(),
                Handle.of(MAJOR, 0x10).value(), 0));
        assertNull(U32FlowHash.recognise(extra, MAJOR, Tc.FLOW_FILTER_PRIO));
        assertNull(U32FlowHash.recognise(nodes, 0x7475, Tc.FLOW_FILTER_PRIO), "another qdisc's classes");
        assertNull(U32FlowHash.recognise(List.of(), MAJOR, Tc.FLOW_FILTER_PRIO));
    }
}
