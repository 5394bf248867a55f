package io.tunshape.tc;

/**
 * Where everything of a tunshape tree sits: the one place its handles are laid out.
 *
 * <pre>
 * 7473:            tbf at the root (one major per kind, so switching kinds is one atomic replace)
 * 7474:            htb at the root
 *   7474:1         the link class ({@link #LINK_CLASS}): the link's rate, everything else under it
 *     7474:10..    priority classes of a profile ({@link #FIRST_CLASS_MINOR} on), each with a leaf
 *     7474:100..   flow queues ({@link #FIRST_FLOW_MINOR} on), under the link class or the default class
 *   75xx:          a class's leaf bfifo: {@link #LEAF_BASE} + the class's minor
 * </pre>
 *
 * Unclassified traffic goes to htb's default class: the link class alone when there are neither
 * classes nor flows; the profile's default class with classes; the first flow queue with flows
 * (the flow classifier spreads what it can read, and leaves the rest there).
 */
public final class TreeLayout {
    public static final int TBF_MAJOR = 0x7473;
    public static final int HTB_MAJOR = 0x7474;
    public static final int LEAF_BASE = 0x7500;
    public static final Handle TBF_HANDLE = Handle.of(TBF_MAJOR, 0);
    public static final Handle HTB_HANDLE = Handle.of(HTB_MAJOR, 0);
    /** The class at the link's rate, directly under the htb qdisc. */
    public static final int LINK_CLASS = 1;
    /** Minor of the first priority class, under {@link #LINK_CLASS}. */
    public static final int FIRST_CLASS_MINOR = 0x10;
    /** Minor of the first flow queue. */
    public static final int FIRST_FLOW_MINOR = 0x100;
    /** The most flow queues a device gets (leaf qdisc handles 7500:+minor must stay below 8000:). */
    public static final int MAX_FLOWS = 1024;

    private TreeLayout() {
    }

    /** A class of tunshape's htb. */
    public static Handle classHandle(int minor) {
        return Handle.of(HTB_MAJOR, minor);
    }

    /** The handle of the leaf bfifo under class {@code classMinor}. */
    public static Handle leafHandle(int classMinor) {
        return Handle.of(LEAF_BASE + classMinor, 0);
    }

    /** The parent of a planned class: the qdisc for minor 0, else that class. */
    public static Handle parentHandle(HtbClassSpec c) {
        return c.parentMinor() == 0 ? HTB_HANDLE : classHandle(c.parentMinor());
    }

    /** A dumped class's parent; htb dumps top-level classes with parent TC_H_ROOT, meaning the qdisc. */
    public static Handle parentOf(QdiscInfo cls, Handle qdisc) {
        return cls.parent().equals(Handle.ROOT) ? qdisc : cls.parent();
    }

    /** Whether a root qdisc is tunshape's: its kind at its handle. */
    public static boolean isManaged(QdiscInfo root) {
        return root != null && ((root.handle().equals(TBF_HANDLE) && "tbf".equals(root.kind()))
                || (root.handle().equals(HTB_HANDLE) && "htb".equals(root.kind())));
    }

    /** Whether a root is tunshape's of one kind. */
    public static boolean isOurs(QdiscInfo root, String kind) {
        return isManaged(root) && kind.equals(root.kind());
    }
}
