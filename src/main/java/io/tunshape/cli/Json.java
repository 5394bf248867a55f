package io.tunshape.cli;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import io.tunshape.link.LinkInfo;
import io.tunshape.link.TunFlags;
import io.tunshape.shape.QdiscView;
import io.tunshape.shape.Result;
import io.tunshape.shape.Session;
import io.tunshape.tc.FlowProgram;
import io.tunshape.tc.FlowQueues;
import io.tunshape.tc.Handle;
import io.tunshape.tc.HtbClassSpec;
import io.tunshape.tc.HtbSpec;
import io.tunshape.tc.Stats;
import io.tunshape.tc.TbfSpec;
import io.tunshape.tc.U32Filter;
import io.tunshape.tc.U32FlowHash;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.Map;

/** The machine-readable output (SPEC section 4): snake_case, rates in bit/s, sizes in bytes. */
final class Json {
    private static final JsonFactory FACTORY = new JsonFactory();

    private Json() {
    }

    interface Body {
        void write(JsonGenerator g) throws IOException;
    }

    static void print(PrintWriter out, Body body) {
        try {
            JsonGenerator g = FACTORY.createGenerator(out);
            body.write(g);
            g.flush();
            out.println();
            out.flush();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static void results(PrintWriter out, List<Result> results) {
        print(out, g -> {
            g.writeStartObject();
            g.writeBooleanField("changed", results.stream().anyMatch(Result::changed));
            g.writeArrayFieldStart("results");
            for (Result r : results) {
                g.writeStartObject();
                g.writeStringField("interface", r.iface());
                g.writeStringField("netns", r.netns());
                g.writeBooleanField("changed", r.changed());
                g.writeFieldName("before");
                qdisc(g, r.before(), false);
                g.writeFieldName("after");
                qdisc(g, r.after(), false);
                if (r.txqueuelenBefore() != null) {
                    g.writeNumberField("txqueuelen_before", r.txqueuelenBefore());
                    g.writeNumberField("txqueuelen_after", r.txqueuelenAfter());
                }
                strings(g, "warnings", r.warnings());
                strings(g, "explanation", r.explanation());
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeEndObject();
        });
    }

    /** {@code flags}: the tun_flags of tun/tap devices by name (link.TunFlags.ofLinks); absent: unknown. */
    static void shown(PrintWriter out, List<Session.Shown> shown, Map<String, Integer> flags) {
        print(out, g -> {
            g.writeStartObject();
            g.writeArrayFieldStart("interfaces");
            for (Session.Shown s : shown) {
                LinkInfo l = s.link();
                g.writeStartObject();
                g.writeStringField("interface", l.name());
                g.writeStringField("netns", s.netns());
                g.writeStringField("kind", l.kind().isEmpty() ? null : l.kind());
                g.writeStringField("state", l.operState());
                g.writeNumberField("mtu", l.mtu());
                g.writeNumberField("txqueuelen", l.txqueuelen());
                g.writeNumberField("tx_dropped", l.txDropped());
                g.writeNumberField("tx_packets", l.txPackets());
                g.writeNumberField("tx_bytes", l.txBytes());
                tunFlags(g, l, flags.get(l.name()));
                g.writeFieldName("qdisc");
                qdisc(g, s.qdisc(), true);
                g.writeArrayFieldStart("broken");
                for (String b : s.broken()) {
                    g.writeString(b);
                }
                g.writeEndArray();
                if (s.defaultStats() != null) {
                    g.writeFieldName("default_qdisc");
                    g.writeStartObject();
                    g.writeStringField("kind", s.defaultKind());
                    g.writeFieldName("stats");
                    stats(g, s.defaultStats());
                    g.writeEndObject();
                }
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeEndObject();
        });
    }

    /**
     * A tun/tap device's "tun_flags" ("0x1001") and "kernel_flow_control" (IFF_BACKPRESSURE set); both
     * null where they could not be read; absent on other devices.
     */
    static void tunFlags(JsonGenerator g, LinkInfo l, Integer flags) throws IOException {
        if (!l.isTunTap()) {
            return;
        }
        if (flags == null) {
            g.writeNullField("tun_flags");
            g.writeNullField("kernel_flow_control");
        } else {
            g.writeStringField("tun_flags", "0x" + Integer.toHexString(flags));
            g.writeBooleanField("kernel_flow_control", TunFlags.flowControl(flags));
        }
    }

    static void qdisc(JsonGenerator g, QdiscView v, boolean withStats) throws IOException {
        if (v == null) {
            g.writeNull();
            return;
        }
        g.writeStartObject();
        g.writeStringField("kind", v.kind());
        g.writeStringField("handle", v.handle().toString());
        g.writeBooleanField("managed", v.managed());
        if (v.tbf() != null) {
            TbfSpec t = v.tbf();
            g.writeNumberField("rate_bps", t.rate().bitsPerSecond());
            g.writeNumberField("burst_bytes", t.burst().bytes());
            g.writeNumberField("limit_bytes", t.limit().bytes());
            g.writeNumberField("overhead", t.overhead());
            g.writeNumberField("mpu", t.mpu());
        }
        if (v.htb() != null) {
            HtbSpec h = v.htb();
            g.writeStringField("default_class", Handle.of(v.handle().major(), h.defaultMinor()).toString());
            g.writeNumberField("r2q", h.r2q());
            g.writeNumberField("direct_qlen", h.directQlen());
            htbClasses(g, v, h, withStats);
            htbFilters(g, v, h);
            g.writeFieldName("flows");
            flows(g, v, h.flows(), withStats);
        }
        if (withStats && v.stats() != null) {
            g.writeFieldName("stats");
            stats(g, v.stats());
        }
        g.writeEndObject();
    }

    /** An htb class's rates, buckets, prio and quantum. */
    private static void htbClasses(JsonGenerator g, QdiscView v, HtbSpec h, boolean withStats) throws IOException {
        g.writeArrayFieldStart("classes");
        for (HtbClassSpec c : h.classes()) {
            g.writeStartObject();
            g.writeStringField("classid", Handle.of(v.handle().major(), c.minor()).toString());
            if (c.name() != null) {
                g.writeStringField("name", c.name());
            }
            g.writeStringField("parent", c.parentMinor() == 0 ? v.handle().toString()
                    : Handle.of(v.handle().major(), c.parentMinor()).toString());
            classParams(g, c);
            g.writeNumberField("overhead", c.overhead());
            g.writeNumberField("mpu", c.mpu());
            if (c.limit() != null) {
                g.writeNumberField("limit_bytes", c.limit().bytes());
            }
            Stats cs = v.classStats().get(c.minor());
            if (withStats && cs != null) {
                g.writeFieldName("stats");
                stats(g, cs);
            }
            g.writeEndObject();
        }
        g.writeEndArray();
    }

    private static void htbFilters(JsonGenerator g, QdiscView v, HtbSpec h) throws IOException {
        g.writeArrayFieldStart("filters");
        for (U32Filter f : h.filters()) {
            g.writeStartObject();
            g.writeNumberField("prio", f.prio());
            g.writeStringField("protocol", f.protocol() == U32Filter.ETH_P_IP ? "ip"
                    : f.protocol() == U32Filter.ETH_P_IPV6 ? "ipv6" : Integer.toString(f.protocol()));
            g.writeStringField("classid", Handle.of(v.handle().major(), f.classMinor()).toString());
            g.writeArrayFieldStart("match");
            for (U32Filter.Key k : f.keys()) {
                g.writeStartObject();
                g.writeNumberField("offset", k.offset());
                g.writeStringField("mask", String.format("0x%08x", k.mask()));
                g.writeStringField("value", String.format("0x%08x", k.value()));
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeEndObject();
        }
        g.writeEndArray();
    }

    private static void classParams(JsonGenerator g, HtbClassSpec c) throws IOException {
        g.writeNumberField("rate_bps", c.rate().bitsPerSecond());
        g.writeNumberField("ceil_bps", c.ceil().bitsPerSecond());
        g.writeNumberField("burst_bytes", c.burst().bytes());
        g.writeNumberField("cburst_bytes", c.cburst().bytes());
        g.writeNumberField("prio", c.prio());
        g.writeNumberField("quantum", c.quantum());
    }

    /** Flow queues: their count, one leaf's parameters, the classifier, and (show) each queue's counters. */
    static void flows(JsonGenerator g, QdiscView v, FlowQueues fq, boolean withStats) throws IOException {
        if (fq == null) {
            g.writeNull();
            return;
        }
        int major = v.handle().major();
        HtbClassSpec c = fq.leaf();
        g.writeStartObject();
        g.writeNumberField("count", fq.count());
        g.writeStringField("parent", Handle.of(major, fq.parentMinor()).toString());
        g.writeStringField("first_class", Handle.of(major, fq.firstMinor()).toString());
        g.writeStringField("last_class", Handle.of(major, fq.firstMinor() + fq.count() - 1).toString());
        classParams(g, c);
        g.writeNumberField("limit_bytes", c.limit() == null ? -1 : c.limit().bytes());
        g.writeObjectFieldStart("classifier");
        g.writeStringField("kind", fq.classifier().word());
        g.writeNumberField("prio", fq.filterPrio());
        if (fq.classifier() == FlowQueues.Classifier.U32) {
            U32FlowHash u = fq.u32();
            g.writeNumberField("prio_ipv6", fq.filterPrio() + 1);
            g.writeBooleanField("fallback", true);
            g.writeStringField("hash", "source port bits 1-" + Integer.numberOfTrailingZeros(u.buckets()));
            g.writeNumberField("buckets", u.buckets());
            g.writeStringField("weaker", "UDP and TCP only (IPv6 without extension headers), by source port alone: "
                    + "flows from one port share a queue, a sender that picks its port picks its queue; ICMP, "
                    + "fragments and other traffic go to the first queue");
        } else {
            g.writeBooleanField("fallback", false);
            g.writeStringField("program", FlowProgram.PROG_NAME);
            g.writeStringField("name", fq.program(major).filterName());
        }
        g.writeEndObject();
        if (withStats) {
            g.writeArrayFieldStart("queues");
            for (HtbClassSpec q : fq.classes()) {
                g.writeStartObject();
                g.writeStringField("classid", Handle.of(major, q.minor()).toString());
                Stats cs = v.classStats().get(q.minor());
                if (cs != null) {
                    g.writeFieldName("stats");
                    stats(g, cs);
                }
                g.writeEndObject();
            }
            g.writeEndArray();
        }
        g.writeEndObject();
    }

    static void stats(JsonGenerator g, Stats s) throws IOException {
        g.writeStartObject();
        g.writeNumberField("sent_bytes", s.bytes());
        g.writeNumberField("sent_packets", s.packets());
        g.writeNumberField("backlog_bytes", s.backlog());
        g.writeNumberField("backlog_packets", s.qlen());
        g.writeNumberField("drops", s.drops());
        g.writeNumberField("overlimits", s.overlimits());
        g.writeNumberField("requeues", s.requeues());
        g.writeEndObject();
    }

    static void strings(JsonGenerator g, String name, List<String> list) throws IOException {
        g.writeArrayFieldStart(name);
        for (String s : list) {
            g.writeString(s);
        }
        g.writeEndArray();
    }
}
