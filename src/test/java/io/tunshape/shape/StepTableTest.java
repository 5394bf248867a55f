package io.tunshape.shape;

import io.tunshape.link.LinkInfo;
import io.tunshape.netlink.MessageWriter;
import io.tunshape.netlink.Nl;
import io.tunshape.profile.Plan;
import io.tunshape.tc.Handle;
import io.tunshape.tc.HtbClassKernel;
import io.tunshape.tc.HtbClassSpec;
import io.tunshape.tc.HtbSpec;
import io.tunshape.tc.KernelStructs.HtbGlob;
import io.tunshape.tc.KernelStructs.HtbOpt;
import io.tunshape.tc.KernelStructs.TbfQopt;
import io.tunshape.tc.KernelStructs.TcRatespec;
import io.tunshape.tc.Psched;
import io.tunshape.tc.QdiscInfo;
import io.tunshape.tc.Rate;
import io.tunshape.tc.Size;
import io.tunshape.tc.Tc;
import io.tunshape.tc.TbfKernel;
import io.tunshape.tc.TbfSpec;
import io.tunshape.tc.TcClient;
import io.tunshape.tc.TcCodec;
import io.tunshape.tc.TreeLayout;
import io.tunshape.tc.U32Filter;
import io.tunshape.tc.U32Node;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The apply and restore step differences as tables over plain records, without the kernel: a device
 * as the kernel would dump it (options written with the kernel's structs, at the values the kernel
 * reads back for a spec), a plan or an earlier state, and the words of the steps that bring one to the
 * other, in order.
 */
class StepTableTest {
    private static final TcCodec CODEC = new TcCodec(Psched.DEFAULT);
    private static final Shaper SHAPER = new Shaper(new TcClient(null, CODEC), null, p -> {
        throw new AssertionError("no flow program is loaded in these tables");
    });
    private static final LinkInfo T0 = link(500);

    private static LinkInfo link(long txqueuelen) {
        return new LinkInfo(2, "t0", "tun", 65534, 0, "up", 1500, txqueuelen, 0, 0, 0);
    }

    // ---- a kernel of plain records ------------------------------------------------------------

    private interface Struct {
        void write(MessageWriter m);
    }

    /** TCA_OPTIONS payload holding one struct attribute (and a u32 attribute when {@code extra} > 0). */
    private static byte[] options(int attr, Struct s, int extraAttr, long extra) {
        MessageWriter m = new MessageWriter(0, 0);
        int p = m.beginAttr(attr);
        s.write(m);
        m.endNest(p);
        if (extraAttr > 0) {
            m.attrU32(extraAttr, extra);
        }
        byte[] b = m.toBytes(0);
        return Arrays.copyOfRange(b, Nl.HDRLEN, b.length);
    }

    private static QdiscInfo tbfRoot(Handle h, TbfSpec t) {
        TbfKernel k = CODEC.predict(t);
        TcRatespec r = new TcRatespec(0, 1, k.overhead(), -1, k.mpu(), k.rateBytes());
        return new QdiscInfo(2, h, Handle.ROOT, "tbf", options(Tc.TCA_TBF_PARMS,
                new TbfQopt(r, TcRatespec.NONE, k.limit(), k.bufferTicks(), 0)::write, 0, 0), null);
    }

    private static QdiscInfo htbRoot(HtbSpec h) {
        // the kernel dumps its own version (3.17), not the 3 it was given
        return new QdiscInfo(2, TreeLayout.HTB_HANDLE, Handle.ROOT, "htb", options(Tc.TCA_HTB_INIT,
                new HtbGlob(0x30011, h.r2q(), h.defaultMinor(), 0, 0)::write, Tc.TCA_HTB_DIRECT_QLEN, h.directQlen()),
                null);
    }

    private static QdiscInfo htbClass(HtbClassSpec c) {
        HtbClassKernel k = CODEC.predict(c);
        TcRatespec rate = new TcRatespec(3, 1, k.overhead(), -1, k.mpu(), k.rateBytes());
        TcRatespec ceil = new TcRatespec(3, 1, k.overhead(), -1, k.mpu(), k.ceilBytes());
        Handle parent = c.parentMinor() == 0 ? Handle.ROOT : TreeLayout.classHandle(c.parentMinor());
        return new QdiscInfo(2, TreeLayout.classHandle(c.minor()), parent, "htb", options(Tc.TCA_HTB_PARMS,
                new HtbOpt(rate, ceil, k.bufferTicks(), k.cbufferTicks(), k.quantum(), 0, k.prio())::write, 0, 0), null);
    }

    private static QdiscInfo leaf(HtbClassSpec c) {
        byte[] limit = java.nio.ByteBuffer.allocate(4).order(java.nio.ByteOrder.nativeOrder())
                .putInt((int) c.limit().bytes()).array();
        return new QdiscInfo(2, TreeLayout.leafHandle(c.minor()), TreeLayout.classHandle(c.minor()), "bfifo", limit,
                null);
    }

    /** A device that holds exactly {@code h}. */
    private static DeviceState holding(LinkInfo l, HtbSpec h) {
        List<QdiscInfo> classes = new ArrayList<>();
        List<QdiscInfo> leaves = new ArrayList<>();
        for (HtbClassSpec c : h.allClasses()) {
            classes.add(htbClass(c));
            if (c.limit() != null) {
                leaves.add(leaf(c));
            }
        }
        return new DeviceState(l, htbRoot(h), classes, leaves, U32Filter.nodes(h.filters(), TreeLayout.HTB_MAJOR),
                List.of(), List.of());
    }

    // ---- specs ----------------------------------------------------------------------------------

    private static final TbfSpec TBF = new TbfSpec(Rate.parse("9600bit"), Size.of(1500), Size.of(3900), 0, 0);
    private static final TbfSpec TBF_FASTER = new TbfSpec(Rate.parse("19200bit"), Size.of(1500), Size.of(3900), 0, 0);

    private static HtbClassSpec cls(int minor, int parent, String rate, long limit) {
        Rate r = Rate.parse(rate);
        return new HtbClassSpec(minor, parent, r, r, Size.of(1500), Size.of(1500), 0, 1500, 0, 0,
                limit < 0 ? null : Size.of(limit), null);
    }

    private static final HtbSpec ONE_CLASS = new HtbSpec(1, 10, 16, List.of(cls(1, 0, "1mbit", 30000)));
    private static final U32Filter DPORT = new U32Filter(1, U32Filter.ETH_P_IP, List.of(
            new U32Filter.Key(0x00ff0000L, 17L << 16, 8), new U32Filter.Key(0x0000ffffL, 5001, 20)), 0x10);
    private static final HtbSpec CLASSES = new HtbSpec(0x11, 10, 16, List.of(cls(1, 0, "1mbit", -1),
            cls(0x10, 1, "500kbit", 20000), cls(0x11, 1, "500kbit", 20000)), List.of(DPORT));

    private static List<String> apply(DeviceState d, Object spec, Long txq) {
        return Shaper.whats(SHAPER.applySteps(d, new Plan((io.tunshape.tc.QdiscSpec) spec, txq, List.of(), List.of())));
    }

    private record ApplyRow(String name, DeviceState held, Object plan, Long txq, List<String> steps) {
    }

    @Test
    void applyStepsAreTheDifferenceBetweenWhatIsHeldAndThePlan() {
        DeviceState bare = DeviceState.bare(T0, null);
        DeviceState ourTbf = DeviceState.bare(T0, tbfRoot(TreeLayout.TBF_HANDLE, TBF));
        DeviceState foreignTbf = DeviceState.bare(T0, tbfRoot(Handle.of(1, 0), TBF));
        DeviceState oneClass = holding(T0, ONE_CLASS);
        DeviceState classes = holding(T0, CLASSES);
        HtbSpec faster = new HtbSpec(1, 10, 16, List.of(cls(1, 0, "2mbit", 30000)));
        HtbSpec biggerLeaf = new HtbSpec(1, 10, 16, List.of(cls(1, 0, "1mbit", 40000)));
        HtbSpec noFilters = new HtbSpec(0x11, 10, 16, CLASSES.classes(), List.of());
        HtbSpec linkOnly = new HtbSpec(0x11, 10, 16, List.of(cls(1, 0, "1mbit", 30000)));
        HtbSpec nested = new HtbSpec(0x11, 10, 16, List.of(cls(1, 0, "1mbit", -1), cls(0x10, 1, "500kbit", -1),
                cls(0x11, 1, "500kbit", 20000), cls(0x12, 0x10, "500kbit", 20000)));
        HtbSpec otherDefault = new HtbSpec(0x10, 10, 16, CLASSES.classes(), CLASSES.filters());
        List<ApplyRow> rows = List.of(
                new ApplyRow("tbf on the default", bare, TBF, null,
                        List.of("install tbf 7473: as root (replacing the kernel default)")),
                new ApplyRow("tbf held", ourTbf, TBF, null, List.of()),
                new ApplyRow("tbf at another rate", ourTbf, TBF_FASTER, null, List.of("change tbf 7473: in place")),
                new ApplyRow("tbf over a foreign one", foreignTbf, TBF, null,
                        List.of("install tbf 7473: as root (replacing tbf 1:)")),
                new ApplyRow("ring only", ourTbf, TBF, 100L, List.of("set txqueuelen 100")),
                new ApplyRow("htb on the default", bare, ONE_CLASS, null, List.of(
                        "install htb 7474: as root (replacing the kernel default)", "add htb class 7474:1",
                        "add bfifo 7501: under 7474:1")),
                new ApplyRow("htb held", oneClass, ONE_CLASS, null, List.of()),
                new ApplyRow("htb class at another rate", oneClass, faster, null,
                        List.of("change htb class 7474:1 in place")),
                new ApplyRow("a larger leaf", oneClass, biggerLeaf, null, List.of("change bfifo 7501: limit in place")),
                new ApplyRow("classes and a port filter held", classes, CLASSES, null, List.of()),
                new ApplyRow("classes no longer wanted, children first", classes, linkOnly, null, List.of(
                        "remove the filters under 7474:", "remove htb class 7474:11", "remove htb class 7474:10",
                        "add bfifo 7501: under 7474:1")),
                new ApplyRow("a grandchild goes before its parent", holding(T0, nested), linkOnly, null, List.of(
                        "remove htb class 7474:12", "remove htb class 7474:11", "remove htb class 7474:10",
                        "add bfifo 7501: under 7474:1")),
                new ApplyRow("a filter no longer wanted", classes, noFilters, null,
                        List.of("remove the filters under 7474:")),
                new ApplyRow("classes and a port filter on one class", oneClass, CLASSES, null, List.of(
                        "remove htb 7474: to rebuild it",
                        "install htb 7474: as root (replacing htb 7474:)", "add htb class 7474:1",
                        "add htb class 7474:10", "add htb class 7474:11", "add bfifo 7510: under 7474:10",
                        "add bfifo 7511: under 7474:11", "add u32 filter prio 1 to 7474:10",
                        "add u32 filter prio 1 to 7474:10", "add u32 filter prio 1 to 7474:10")),
                new ApplyRow("another default class: htb is built again", classes, otherDefault, null, List.of(
                        "remove htb 7474: to rebuild it", "install htb 7474: as root (replacing htb 7474:)",
                        "add htb class 7474:1", "add htb class 7474:10", "add htb class 7474:11",
                        "add bfifo 7510: under 7474:10", "add bfifo 7511: under 7474:11",
                        "add u32 filter prio 1 to 7474:10", "add u32 filter prio 1 to 7474:10",
                        "add u32 filter prio 1 to 7474:10")));
        for (ApplyRow r : rows) {
            assertEquals(r.steps(), apply(r.held(), r.plan(), r.txq()), r.name());
        }
    }

    private record RestoreRow(String name, DeviceState before, DeviceState now, List<String> steps) {
    }

    @Test
    void restoreStepsTakeANewStateBackToTheOldOne() {
        DeviceState bare = DeviceState.bare(T0, null);
        DeviceState ourTbf = DeviceState.bare(T0, tbfRoot(TreeLayout.TBF_HANDLE, TBF));
        DeviceState fasterTbf = DeviceState.bare(T0, tbfRoot(TreeLayout.TBF_HANDLE, TBF_FASTER));
        DeviceState foreignTbf = DeviceState.bare(T0, tbfRoot(Handle.of(1, 0), TBF));
        DeviceState oneClass = holding(T0, ONE_CLASS);
        DeviceState classes = holding(T0, CLASSES);
        DeviceState classesNoFilter = new DeviceState(T0, classes.root(), classes.classes(), classes.children(),
                List.of(), List.of(), List.of());
        DeviceState longerRing = DeviceState.bare(link(100), tbfRoot(TreeLayout.TBF_HANDLE, TBF));
        List<RestoreRow> rows = List.of(
                new RestoreRow("nothing changed", classes, classes, List.of()),
                new RestoreRow("a root added to the default", bare, ourTbf, List.of("remove root 7473:")),
                new RestoreRow("a foreign root replaced", foreignTbf, ourTbf, List.of("put back root tbf 1:")),
                new RestoreRow("a tbf changed in place", ourTbf, fasterTbf, List.of("put back root tbf 7473:")),
                new RestoreRow("the ring changed", ourTbf, longerRing, List.of("put back txqueuelen 500")),
                new RestoreRow("classes added under a class", oneClass, classes, List.of(
                        "remove the filters under 7474:", "remove class 7474:11", "remove class 7474:10",
                        "put back qdisc 7501:")),
                new RestoreRow("classes removed", classes, oneClass, List.of("put back class 7474:10",
                        "put back class 7474:11", "put back qdisc 7510:", "put back qdisc 7511:",
                        "put back u32 filter prio 1", "put back u32 filter prio 1", "put back u32 filter prio 1")),
                new RestoreRow("the filters removed", classes, classesNoFilter, List.of("put back u32 filter prio 1",
                        "put back u32 filter prio 1", "put back u32 filter prio 1")),
                new RestoreRow("htb replaced by tbf", classes, ourTbf, List.of("put back root htb 7474:",
                        "put back class 7474:1", "put back class 7474:10", "put back class 7474:11",
                        "put back qdisc 7510:", "put back qdisc 7511:", "put back u32 filter prio 1",
                        "put back u32 filter prio 1", "put back u32 filter prio 1")));
        for (RestoreRow r : rows) {
            assertEquals(r.steps(), Shaper.whats(SHAPER.restoreSteps(r.before(), r.now())), r.name());
        }
    }

    @Test
    void aPortFilterIsATreeThatFollowsTheHeaderLengthAndIsReadBackAsOneFilter() {
        List<U32Node> nodes = DPORT.nodes(TreeLayout.HTB_MAJOR);
        assertEquals(3, nodes.size());
        assertEquals(U32Filter.TABLE_BASE + 1, nodes.get(0).table());
        U32Node.Selector hop = nodes.get(1).sel();
        assertEquals(Tc.TC_U32_VAROFFSET | Tc.TC_U32_EAT, hop.flags());
        assertEquals(0x0f00, hop.offmask());
        assertEquals(6, hop.offshift());
        assertEquals(0, nodes.get(2).sel().keys().get(0).offset(), "the port word is the transport header's first");
        assertEquals(List.of(DPORT), U32Filter.recognise(nodes, TreeLayout.HTB_MAJOR));
        // IPv6 and IP-header-only filters stay one node at fixed offsets
        U32Filter v6 = new U32Filter(2, U32Filter.ETH_P_IPV6, List.of(new U32Filter.Key(0xffff, 5001, 40)), 0x10);
        assertEquals(1, v6.nodes(TreeLayout.HTB_MAJOR).size());
        assertEquals(List.of(v6), U32Filter.recognise(v6.nodes(TreeLayout.HTB_MAJOR), TreeLayout.HTB_MAJOR));
    }
}
