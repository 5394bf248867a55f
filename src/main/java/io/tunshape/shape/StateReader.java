package io.tunshape.shape;

import io.tunshape.link.LinkClient;
import io.tunshape.link.LinkInfo;
import io.tunshape.tc.QdiscInfo;
import io.tunshape.tc.TcClient;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** Reads what the devices of one namespace hold: two dumps for all, and a device's classes and filters. */
final class StateReader {
    private final TcClient tc;
    private final LinkClient links;

    StateReader(TcClient tc, LinkClient links) {
        this.tc = tc;
        this.links = links;
    }

    Shaper.Snapshot snapshot() {
        List<LinkInfo> l = links.links();
        Map<Integer, QdiscInfo> roots = new HashMap<>();
        Map<Integer, QdiscInfo> defaults = new HashMap<>();
        Map<Integer, List<QdiscInfo>> children = new HashMap<>();
        for (QdiscInfo q : tc.qdiscs()) {
            if (q.isRoot()) {
                // handle 0 is the kernel's default (pfifo_fast, noqueue, noop, mq): not a configured root
                (q.handle().value() != 0 ? roots : defaults).put(q.ifindex(), q);
            } else {
                children.computeIfAbsent(q.ifindex(), k -> new ArrayList<>()).add(q);
            }
        }
        return new Shaper.Snapshot(l, roots, defaults, children);
    }

    DeviceState state(Shaper.Snapshot s, LinkInfo link) {
        QdiscInfo root = s.roots().get(link.index());
        List<QdiscInfo> children = s.children().getOrDefault(link.index(), List.of());
        if (root == null || !"htb".equals(root.kind())) {
            return new DeviceState(link, root, List.of(), children, List.of(), List.of(), List.of());
        }
        TcClient.Filters f = tc.filters(link.index(), root.handle());
        return new DeviceState(link, root, tc.classes(link.index()), children, f.u32(), f.bpf(), f.u32Flow());
    }

    /** The state of one device now, read afresh. */
    DeviceState reread(LinkInfo link) {
        Shaper.Snapshot s = snapshot();
        for (LinkInfo l : s.links()) {
            if (l.index() == link.index()) {
                return state(s, l);
            }
        }
        return DeviceState.bare(link, null);
    }
}
