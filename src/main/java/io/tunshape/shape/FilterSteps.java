package io.tunshape.shape;

import io.tunshape.tc.Handle;
import io.tunshape.tc.TcClient;
import io.tunshape.tc.TcCodec;
import io.tunshape.tc.U32Filter;
import io.tunshape.tc.U32FlowHash;
import io.tunshape.tc.U32Node;

import java.util.List;

/** The requests that add filters under an htb root: match filters, and either flow classifier. */
final class FilterSteps {
    private FilterSteps() {
    }

    /** The request that removes every filter under {@code parent}, when there is one to remove. */
    static void removeAll(int ix, Handle parent, List<Shaper.Step> steps) {
        steps.add(new Shaper.Step("remove the filters under " + parent, TcCodec.deleteFilters(ix, parent), true));
    }

    /** The u32 objects of a match filter, under a qdisc of {@code parent}. */
    static void match(int ix, Handle parent, U32Filter f, List<Shaper.Step> steps, String what) {
        for (U32Node n : f.nodes(parent.major())) {
            steps.add(new Shaper.Step(what, TcCodec.u32Node(TcClient.ADD, ix, parent, n)));
        }
    }

    /** The requests that build the u32 flow classifier: its tables, their buckets, the nodes linking to them. */
    static void u32Flow(int ix, Handle parent, U32FlowHash u, List<Shaper.Step> steps) {
        String classes = Handle.of(parent.major(), u.firstMinor()) + "-" + Integer.toHexString(u.firstMinor()
                + u.queuesReached() - 1);
        for (U32Node n : u.nodes(parent.major())) {
            // one request per object, but the same words for the objects of one part (a plan lists them once)
            String what = "add the u32 flow classifier (fallback where eBPF is refused), prio " + n.prio() + ": "
                    + (n.isTable() ? "its hash tables" : n.classid() != 0 ? "its " + u.buckets() + " buckets by source "
                    + "port to classes " + classes : "its nodes from the IP header to the ports");
            steps.add(new Shaper.Step(what, TcCodec.u32Node(TcClient.ADD, ix, parent, n)));
        }
    }
}
