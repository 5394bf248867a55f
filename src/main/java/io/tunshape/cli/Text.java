package io.tunshape.cli;

import io.tunshape.link.LinkInfo;
import io.tunshape.link.TunFlags;
import io.tunshape.shape.QdiscView;
import io.tunshape.shape.Result;
import io.tunshape.shape.Session;
import io.tunshape.tc.FlowProgram;
import io.tunshape.tc.FlowQueues;
import io.tunshape.tc.Handle;
import io.tunshape.tc.HtbClassSpec;
import io.tunshape.tc.Stats;
import io.tunshape.tc.TbfSpec;
import io.tunshape.tc.U32Filter;

import java.io.PrintWriter;
import java.util.List;
import java.util.Map;

/** Output for people. */
final class Text {
    private Text() {
    }

    static String qdisc(QdiscView v) {
        if (v == null) {
            return "kernel default";
        }
        StringBuilder b = new StringBuilder(v.kind()).append(' ').append(v.handle());
        if (!v.managed()) {
            b.append(" (not tunshape's)");
        }
        if (v.tbf() != null) {
            TbfSpec t = v.tbf();
            b.append(" rate ").append(t.rate()).append(" burst ").append(t.burst().bytes()).append("b limit ")
                    .append(t.limit().bytes()).append('b');
            overhead(b, t.overhead(), t.mpu());
        }
        if (v.htb() != null) {
            b.append(" default ").append(Handle.of(v.handle().major(), v.htb().defaultMinor()));
        }
        return b.toString();
    }

    static String htbClass(QdiscView v, HtbClassSpec c) {
        StringBuilder b = new StringBuilder("class ").append(Handle.of(v.handle().major(), c.minor()))
                .append(c.name() != null ? " (" + c.name() + ")" : "")
                .append(c.parentMinor() != 0 ? " parent " + Handle.of(v.handle().major(), c.parentMinor()) : "")
                .append(" rate ").append(c.rate()).append(" ceil ").append(c.ceil()).append(" burst ")
                .append(c.burst().bytes()).append("b cburst ").append(c.cburst().bytes()).append("b prio ")
                .append(c.prio()).append(" quantum ").append(c.quantum());
        overhead(b, c.overhead(), c.mpu());
        if (c.limit() != null) {
            b.append(" limit ").append(c.limit().bytes()).append('b');
        }
        return b.toString();
    }

    private static void overhead(StringBuilder b, int overhead, int mpu) {
        if (overhead != 0 || mpu != 0) {
            b.append(" overhead ").append(overhead).append(" mpu ").append(mpu);
        }
    }

    static String filter(QdiscView v, U32Filter f) {
        StringBuilder b = new StringBuilder("filter prio ").append(f.prio()).append(' ')
                .append(f.protocol() == U32Filter.ETH_P_IP ? "ip" : f.protocol() == U32Filter.ETH_P_IPV6 ? "ipv6"
                        : String.format("0x%04x", f.protocol()))
                .append(" u32 -> ").append(Handle.of(v.handle().major(), f.classMinor()));
        for (U32Filter.Key k : f.keys()) {
            b.append(String.format(" match %08x/%08x at %d", k.value(), k.mask(), k.offset()));
        }
        return b.toString();
    }

    static String flows(QdiscView v, FlowQueues fq) {
        int major = v.handle().major();
        HtbClassSpec c = fq.leaf();
        return "flows " + fq.count() + ": classes " + Handle.of(major, fq.firstMinor()) + "-"
                + Integer.toHexString(fq.firstMinor() + fq.count() - 1) + " under " + Handle.of(major, fq.parentMinor())
                + ", each rate " + c.rate() + " ceil " + c.ceil() + " prio " + c.prio() + " quantum " + c.quantum()
                + (c.limit() != null ? " limit " + c.limit().bytes() + "b" : "") + "; filter prio " + fq.filterPrio()
                + (fq.classifier() == FlowQueues.Classifier.U32
                ? "-" + (fq.filterPrio() + 1) + " u32 (source port bits 1-"
                + Integer.numberOfTrailingZeros(fq.u32().buckets()) + " over " + fq.u32().buckets() + " buckets: "
                + "the fallback where eBPF is refused, weaker than the flow hash; UDP and TCP only)"
                : " bpf " + FlowProgram.PROG_NAME + " (flow hash modulo " + fq.count() + ")");
    }

    /** The flow queues' counters together, and how many hold packets now. */
    static String flowStats(QdiscView v, FlowQueues fq) {
        long bytes = 0;
        long packets = 0;
        long backlog = 0;
        long qlen = 0;
        long drops = 0;
        int busy = 0;
        int used = 0;
        for (HtbClassSpec c : fq.classes()) {
            Stats s = v.classStats().get(c.minor());
            if (s != null) {
                bytes += s.bytes();
                packets += s.packets();
                backlog += s.backlog();
                qlen += s.qlen();
                drops += s.drops();
                busy += s.qlen() > 0 ? 1 : 0;
                used += s.packets() > 0 ? 1 : 0;
            }
        }
        return "all queues: sent " + bytes + " bytes " + packets + " pkt, backlog " + backlog + "b " + qlen
                + "p, dropped " + drops + "; " + used + " queues used, " + busy + " busy now";
    }

    /** "  kernel flow control on|off" for a tun/tap device ("unknown" when its flags could not be read), else "". */
    static String flowControl(LinkInfo l, Integer flags) {
        if (!l.isTunTap()) {
            return "";
        }
        return "  kernel flow control " + (flags == null ? "unknown" : TunFlags.flowControl(flags) ? "on" : "off");
    }

    static String stats(Stats s) {
        return "sent " + s.bytes() + " bytes " + s.packets() + " pkt, backlog " + s.backlog() + "b " + s.qlen()
                + "p, dropped " + s.drops() + ", overlimits " + s.overlimits();
    }

    static void results(PrintWriter out, List<Result> results, boolean dryRun, boolean verbose) {
        for (Result r : results) {
            String verb = r.changed() ? (dryRun ? "would change" : "changed") : "unchanged";
            out.println(r.iface() + ": " + verb + ": " + qdisc(r.after()));
            if (r.after() != null && r.after().htb() != null) {
                for (HtbClassSpec c : r.after().htb().classes()) {
                    out.println("    " + htbClass(r.after(), c));
                }
                for (U32Filter f : r.after().htb().filters()) {
                    out.println("    " + filter(r.after(), f));
                }
                if (r.after().htb().flows() != null) {
                    out.println("    " + flows(r.after(), r.after().htb().flows()));
                }
            }
            if (r.changed()) {
                out.println("    before: " + qdisc(r.before()));
            }
            if (r.txqueuelenAfter() != null && !r.txqueuelenAfter().equals(r.txqueuelenBefore())) {
                out.println("    txqueuelen: " + r.txqueuelenBefore() + " -> " + r.txqueuelenAfter());
            }
            if (dryRun || verbose) {
                for (String e : r.explanation()) {
                    out.println("    " + e);
                }
            }
        }
    }

    static void warnings(PrintWriter err, List<Result> results) {
        for (Result r : results) {
            for (String w : r.warnings()) {
                err.println("warning: " + r.iface() + ": " + w);
            }
        }
    }

    /** {@code flags}: the tun_flags of tun/tap devices by name (link.TunFlags.ofLinks); absent: unknown. */
    static void shown(PrintWriter out, List<Session.Shown> shown, Map<String, Integer> flags) {
        if (shown.isEmpty()) {
            out.println("no tun/tap devices");
        }
        for (Session.Shown s : shown) {
            LinkInfo l = s.link();
            out.println(l.name() + "  " + (l.kind().isEmpty() ? "-" : l.kind()) + "  " + l.operState() + "  mtu "
                    + l.mtu() + "  txqueuelen " + l.txqueuelen() + "  tx_dropped " + l.txDropped()
                    + flowControl(l, flags.get(l.name())));
            QdiscView v = s.qdisc();
            if (v == null) {
                out.println("    qdisc " + (s.defaultKind() == null ? "none" : s.defaultKind()) + " (kernel default)");
                if (s.defaultStats() != null) {
                    out.println("    " + stats(s.defaultStats()));
                }
                continue;
            }
            out.println("    qdisc " + qdisc(v));
            for (String b : s.broken()) {
                out.println("    BROKEN: " + b + "; 'tunshape apply' with the device's plan repairs it");
            }
            if (v.stats() != null) {
                out.println("    " + stats(v.stats()));
            }
            if (v.htb() != null) {
                for (HtbClassSpec c : v.htb().classes()) {
                    out.println("    " + htbClass(v, c));
                    Stats cs = v.classStats().get(c.minor());
                    if (cs != null) {
                        out.println("        " + stats(cs));
                    }
                }
                for (U32Filter f : v.htb().filters()) {
                    out.println("    " + filter(v, f));
                }
                FlowQueues fq = v.htb().flows();
                if (fq != null) {
                    out.println("    " + flows(v, fq));
                    out.println("        " + flowStats(v, fq));
                }
            }
        }
    }
}
