package io.tunshape.shape;

import io.tunshape.netlink.MessageWriter;
import io.tunshape.tc.HtbClassSpec;
import io.tunshape.tc.HtbSpec;
import io.tunshape.tc.Tc;
import io.tunshape.tc.TcClient;
import io.tunshape.tc.TcCodec;

import java.util.ArrayList;
import java.util.List;

import static io.tunshape.tc.TreeLayout.classHandle;
import static io.tunshape.tc.TreeLayout.leafHandle;
import static io.tunshape.tc.TreeLayout.parentHandle;

/**
 * A new adaptive rate sent to the kernel: the classes and leaf limits of tunshape's htb changed in
 * place, without reading anything first. The daemon's compiled rate change computes the tree at the
 * new rate and sends it through here.
 */
public final class FastRateChange {
    private FastRateChange() {
    }

    /**
     * With {@code emptyLeaves}, each leaf is deleted and added again at its new limit instead of
     * changed (the class holds the kernel's default leaf in between): what it held is dropped at once,
     * and the kernel counts it in the root's drops. The next full pass checks the result like any other.
     */
    public static void changeHtbInPlace(TcClient tc, int ifindex, HtbSpec h, boolean emptyLeaves) {
        TcCodec codec = tc.codec();
        List<MessageWriter> ms = new ArrayList<>();
        for (HtbClassSpec c : h.classes()) {
            // no rate tables: the kernel does not read them for our ratespecs
            ms.add(codec.htbClass(TcClient.CHANGE, ifindex, classHandle(c.minor()), parentHandle(c), c, false));
            if (c.limit() == null) {
                continue;
            }
            if (emptyLeaves) {
                ms.add(TcCodec.delete(Tc.RTM_DELQDISC, ifindex, leafHandle(c.minor()), classHandle(c.minor())));
            }
            ms.add(codec.bfifo(emptyLeaves ? TcClient.REPLACE : TcClient.CHANGE, ifindex, leafHandle(c.minor()),
                    classHandle(c.minor()), c.limit().bytes()));
        }
        // flow queues borrow everything from their parent, so a new rate moves no flow class; their
        // queues are emptied on request (a deep fall in latency mode) like any leaf
        if (h.flows() != null && emptyLeaves) {
            for (HtbClassSpec c : h.flows().classes()) {
                ms.add(TcCodec.delete(Tc.RTM_DELQDISC, ifindex, leafHandle(c.minor()), classHandle(c.minor())));
                ms.add(codec.bfifo(TcClient.REPLACE, ifindex, leafHandle(c.minor()), classHandle(c.minor()),
                        c.limit().bytes()));
            }
        }
        // one datagram, one ACK (for the last): a refusal of any still throws, and the pass that follows
        // puts right whatever the messages after it changed
        tc.sendAll(ms);
    }
}
