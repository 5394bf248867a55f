package io.tunshape.profile;

import io.tunshape.tc.Duration;
import io.tunshape.tc.HtbSpec;
import io.tunshape.tc.Psched;
import io.tunshape.tc.QdiscSpec;
import io.tunshape.tc.Rate;
import io.tunshape.tc.Size;
import io.tunshape.tc.TbfSpec;
import io.tunshape.tc.TreeLayout;
import io.tunshape.tc.U32Filter;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The plan as a table over plain records: a request and a device in, the sizes and the tree's shape
 * out (kind, burst, limit, ring, classes, filters, default class). No kernel, no /proc: the socket
 * buffer default is an input.
 */
class PlanTableTest {
    private static final long WMEM = 212992;
    private static final Planner PLANNER = new Planner(Psched.DEFAULT, WMEM);
    private static final Device TUN = new Device("tun0", 1500, 0, 500);
    private static final Device TAP = new Device("tap0", 1500, 14, 1000);

    private static ShapingRequest req(String qdisc, String rate, String latency, int flows,
                                      List<Profile.ClassDef> classes, boolean deriveTxq) {
        return new ShapingRequest(qdisc, Rate.parse(rate), rate, null, null, null,
                latency == null ? null : Duration.parse(latency), null, 1, 0, 0, null, classes, deriveTxq, null, flows,
                null);
    }

    private static final Profile.ClassDef GAME = new Profile.ClassDef("game", Rate.parse("500kbit"), null, 0, null,
            new Profile.Match(null, 17, null, 5001), false);
    private static final Profile.ClassDef BULK = new Profile.ClassDef("bulk", Rate.parse("500kbit"), null, 1, null,
            null, true);

    /** What a plan is, in a row. */
    private record Shape(String kind, long burst, long limit, Long txq, int classes, int filters, int defaultMinor) {
        static Shape of(Plan p) {
            QdiscSpec q = p.qdisc();
            if (q instanceof TbfSpec t) {
                return new Shape("tbf", t.burst().bytes(), t.limit().bytes(), p.txqueuelen(), 0, 0, 0);
            }
            HtbSpec h = (HtbSpec) q;
            long leaf = h.classes().get(0).limit() == null ? -1 : h.classes().get(0).limit().bytes();
            return new Shape("htb", h.classes().get(0).burst().bytes(), leaf, p.txqueuelen(), h.allClasses().size(),
                    h.filters().size(), h.defaultMinor());
        }
    }

    private record Row(String name, ShapingRequest r, Device dev, Shape want) {
    }

    @Test
    void plansAreTheSizesOfTheirRequests() {
        List<Row> rows = List.of(
                // one frame of bucket; 1200 B/s x 2 s + the bucket
                new Row("tbf at 9600bit, latency 2s", req("tbf", "9600bit", "2s", 0, List.of(), false), TUN,
                        new Shape("tbf", 1500, 3900, null, 0, 0, 0)),
                new Row("the same on a tap: frames 14 bytes longer", req("tbf", "9600bit", "2s", 0, List.of(), false),
                        TAP, new Shape("tbf", 1514, 3914, null, 0, 0, 0)),
                // backpressure: one sender's default buffer plus the bucket
                new Row("tbf at 1mbit, backpressure", req("tbf", "1mbit", null, 0, List.of(), false), TUN,
                        new Shape("tbf", 1500, WMEM + 1500, null, 0, 0, 0)),
                // a second of full frames at 125000 B/s: 84 packets
                new Row("a derived ring", req("tbf", "1mbit", null, 0, List.of(), true), TUN,
                        new Shape("tbf", 1500, WMEM + 1500, 84L, 0, 0, 0)),
                new Row("htb, one class with its leaf", req("htb", "1mbit", "1s", 0, List.of(), false), TUN,
                        new Shape("htb", 1500, 126500, null, 1, 0, TreeLayout.LINK_CLASS)),
                // the link class has no leaf of its own; unclassified traffic goes to the first queue
                new Row("htb with 4 flow queues", req(null, "1mbit", "1s", 4, List.of(), false), TUN,
                        new Shape("htb", 1500, -1, null, 5, 0, TreeLayout.FIRST_FLOW_MINOR)),
                // two filters for the port class (IPv4 and IPv6); unclassified traffic to the default class
                new Row("htb with a port class and a default one", req("htb", "1mbit", "1s", 0, List.of(GAME, BULK),
                        false), TUN, new Shape("htb", 1500, -1, null, 3, 2, TreeLayout.FIRST_CLASS_MINOR + 1)),
                new Row("classes with flows under the default", req("htb", "1mbit", "1s", 4, List.of(GAME, BULK),
                        false), TUN, new Shape("htb", 1500, -1, null, 7, 2, TreeLayout.FIRST_FLOW_MINOR)));
        for (Row row : rows) {
            Plan full = PLANNER.plan(row.r(), row.dev());
            assertEquals(row.want(), Shape.of(full), row.name());
            // the daemon's plan without words holds the same tree
            assertEquals(full.qdisc(), PLANNER.plan(row.r(), row.dev(), false).qdisc(), row.name());
        }
    }

    @Test
    void theSocketBufferDefaultIsAnInputThatSizesTheBackpressureQueue() {
        ShapingRequest r = req("tbf", "1mbit", null, 0, List.of(), false);
        for (long wmem : new long[] {4096, WMEM, 1 << 20}) {
            TbfSpec t = (TbfSpec) new Planner(Psched.DEFAULT, wmem).plan(r, TUN).qdisc();
            assertEquals(wmem + 1500, t.limit().bytes(), "wmem_default " + wmem);
        }
    }

    @Test
    void aPortMatchOnIpv4FollowsTheHeaderLengthAndOnIpv6StaysAtFortyBytes() {
        HtbSpec h = (HtbSpec) PLANNER.plan(req("htb", "1mbit", "1s", 0, List.of(GAME, BULK), false), TUN).qdisc();
        U32Filter v4 = h.filters().get(0);
        U32Filter v6 = h.filters().get(1);
        assertEquals(List.of(true, false), List.of(v4.followsIhl(), v6.followsIhl()));
        assertEquals(new U32Filter.Key(0x0000ffffL, 5001, 20), v4.keys().get(1));
        assertEquals(new U32Filter.Key(0x0000ffffL, 5001, 40), v6.keys().get(1));
        assertEquals(Size.of(1500), h.classes().get(1).burst());
    }
}
