package io.tunshape.shape;

import io.tunshape.netlink.MessageWriter;
import io.tunshape.tc.Handle;
import io.tunshape.tc.QdiscInfo;
import io.tunshape.tc.Tc;
import io.tunshape.tc.TcCodec;
import io.tunshape.tc.TreeLayout;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.function.Predicate;

/** The orders the kernel accepts classes in: parents before their children to add, children first to remove. */
final class ClassOrder {
    private ClassOrder() {
    }

    /** Classes with each parent before its children (classes whose parent is missing last, as they came). */
    static List<QdiscInfo> parentsFirst(Collection<QdiscInfo> classes, Handle root) {
        List<QdiscInfo> out = new ArrayList<>();
        List<QdiscInfo> left = new ArrayList<>(classes);
        Set<Long> placed = new HashSet<>();
        placed.add(root.value());
        placed.add(Handle.ROOT.value());
        while (!left.isEmpty()) {
            boolean progress = false;
            for (Iterator<QdiscInfo> it = left.iterator(); it.hasNext(); ) {
                QdiscInfo c = it.next();
                if (placed.contains(c.parent().value())) {
                    out.add(c);
                    placed.add(c.handle().value());
                    it.remove();
                    progress = true;
                }
            }
            if (!progress) {
                out.addAll(left);
                break;
            }
        }
        return out;
    }

    /**
     * Steps that remove the classes of {@code have} that {@code keep} rejects, children first; a
     * removal that finds the class gone already is fine when {@code toleratesMissing}.
     */
    static List<Shaper.Step> removeUnwanted(int ix, Collection<QdiscInfo> have, Handle qdisc,
                                            Predicate<QdiscInfo> keep, String word, boolean toleratesMissing) {
        List<Shaper.Step> steps = new ArrayList<>();
        for (QdiscInfo c : parentsFirst(have, qdisc)) {
            if (!keep.test(c)) {
                MessageWriter m = TcCodec.delete(Tc.RTM_DELTCLASS, ix, c.handle(), TreeLayout.parentOf(c, qdisc));
                steps.add(0, new Shaper.Step("remove " + word + " " + c.handle(), m, toleratesMissing));
            }
        }
        return steps;
    }
}
