package io.tunshape.profile;

import io.tunshape.tc.Duration;
import io.tunshape.tc.Rate;
import io.tunshape.tc.Size;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/** Builds a {@link Profile} from YAML, refusing anything wrong with its position and what is accepted. */
public final class ProfileParser {
    static final Set<String> TOP = Set.of("name", "description", "source", "link", "shaping", "adaptive");
    static final Set<String> LINK = Set.of("rate", "overhead", "mpu", "mtu");
    static final Set<String> SHAPING = Set.of("qdisc", "mode", "latency", "senders", "burst", "limit", "txqueuelen",
            "classes", "flows");
    static final Set<String> CLASS = Set.of("name", "rate", "ceil", "prio", "quantum", "match", "default");
    static final Set<String> MATCH = Set.of("dscp", "protocol", "sport", "dport");
    static final Set<String> ADAPTIVE = Set.of("min_rate", "max_rate", "headroom");
    private static final Pattern NAME = Pattern.compile("[a-z0-9][a-z0-9-]{0,62}");

    /** Qdisc kinds a profile may name. */
    public enum Qdisc { TBF, HTB }

    /** DSCP names (RFC 2474, 2597, 3246, 5865, 8622). */
    static final Map<String, Integer> DSCP = dscpNames();
    static final Map<String, Integer> PROTOCOLS = Map.of("icmp", 1, "tcp", 6, "udp", 17, "icmpv6", 58, "sctp", 132);

    private ProfileParser() {
    }

    private static Map<String, Integer> dscpNames() {
        Map<String, Integer> m = new java.util.LinkedHashMap<>();
        for (int i = 0; i <= 7; i++) {
            m.put("CS" + i, i * 8);
        }
        for (int x = 1; x <= 4; x++) {
            for (int y = 1; y <= 3; y++) {
                m.put("AF" + x + y, 8 * x + 2 * y);
            }
        }
        m.put("EF", 46);
        m.put("VA", 44);
        m.put("LE", 1);
        return java.util.Collections.unmodifiableMap(m);
    }

    /**
     * @param expectedName the file's base name, which the profile's name must equal (null: not checked)
     */
    public static Profile parse(YamlNode root, String file, String expectedName) {
        Fields top = Fields.of(file, "", root, TOP);
        String name = top.string("name", true);
        if (!NAME.matcher(name).matches()) {
            throw top.error("name", "'" + name + "' is not accepted; a name is lowercase letters, digits and '-', "
                    + "starting with a letter or digit, at most 63 characters");
        }
        if (expectedName != null && !name.equals(expectedName)) {
            throw top.error("name", "'" + name + "' does not match the file name '" + expectedName
                    + "'; a profile is found by its file name, so they must be the same");
        }
        String description = top.string("description", true);
        String source = top.string("source", true);

        Fields link = top.sub("link", LINK);
        if (link == null) {
            throw top.error("link", "missing; a profile needs link: with at least rate:");
        }
        boolean reader = ShapingRequest.READER.equals(link.text("rate"));
        Rate rate = reader ? ShapingRequest.READER_RATE : link.rate("rate", true);
        int overhead = (int) link.integer("overhead", 0, 0, 65535, "bytes the backend adds to every frame");
        int mpu = (int) link.integer("mpu", 0, 0, 65535, "minimum packet unit in bytes");
        int mtu = (int) link.integer("mtu", 1500, 68, 65535, "the device's MTU in bytes");
        Profile.Link l = new Profile.Link(rate, link.text("rate"), overhead, mpu, mtu);

        Fields sh = top.sub("shaping", SHAPING);
        Profile.Shaping shaping;
        if (sh == null) {
            shaping = new Profile.Shaping("tbf", Mode.BACKPRESSURE, null, 1, null, null, null, List.of(), 0);
        } else {
            shaping = shaping(sh, rate);
            if (reader && !shaping.classes().isEmpty()) {
                throw sh.error("classes", "priority classes divide the link's rate; with rate: reader there is no "
                        + "rate (the reader's pace is the clock): leave the classes out (flows: N still isolates "
                        + "flows), or give the link's rate");
            }
        }

        Profile.Adaptive adaptive = null;
        Fields ad = top.sub("adaptive", ADAPTIVE);
        if (ad != null && reader) {
            throw top.error("adaptive", "an adaptive link moves a rate; with rate: reader there is none (the "
                    + "reader's pace is the clock, which needs no reports): leave adaptive: out, or give the link's "
                    + "rate");
        }
        if (ad != null) {
            Rate min = ad.rate("min_rate", true);
            Rate max = ad.rate("max_rate", true);
            if (min.compareTo(max) > 0) {
                throw ad.error("min_rate", min + " is above max_rate " + max + "; min_rate must not exceed max_rate");
            }
            if (rate.compareTo(min) < 0 || rate.compareTo(max) > 0) {
                throw ad.error("min_rate", "the link rate " + rate + " lies outside [" + min + ", " + max + "]; the "
                        + "daemon returns to the link rate when reports stop, so it must be within the bounds");
            }
            double headroom = ad.percent("headroom", 0.05, 0.5);
            adaptive = new Profile.Adaptive(min, max, headroom);
        }
        return new Profile(name, description, source, file, l, shaping, adaptive);
    }

    private static Profile.Shaping shaping(Fields sh, Rate linkRate) {
        int flows = (int) sh.integer("flows", 0, 0, io.tunshape.tc.TreeLayout.MAX_FLOWS, "flow queues under the link rate (0: one "
                + "queue for every flow)");
        if (flows == 1) {
            throw sh.error("flows", "1 is one queue for every flow, as without flows; give 2 to " + io.tunshape.tc.TreeLayout.MAX_FLOWS
                    + " flow queues, or 0");
        }
        // flow queues are htb classes: flows alone imply htb
        Qdisc q = sh.choice("qdisc", Qdisc.class, flows > 0 ? Qdisc.HTB : Qdisc.TBF);
        if (flows > 0 && q != Qdisc.HTB) {
            throw sh.error("flows", "flow queues are htb classes; they need qdisc: htb (or no qdisc:)");
        }
        Duration latency = sh.time("latency");
        Size limit = sh.sizeOrAuto("limit");
        Mode dflt = latency != null || limit != null ? Mode.LATENCY : Mode.BACKPRESSURE;
        Mode mode = sh.choice("mode", Mode.class, dflt);
        if (latency != null && latency.micros() == 0) {
            throw sh.error("latency", "0 leaves no room to queue; give a time such as 500ms or 2s");
        }
        if (latency != null && limit != null) {
            throw sh.error("limit", "give either limit or latency, not both (latency derives the limit: rate x "
                    + "latency + burst)");
        }
        if (mode == Mode.BACKPRESSURE && latency != null) {
            throw sh.error("latency", "latency belongs to mode: latency; backpressure mode sizes the queue from the "
                    + "senders' socket buffers");
        }
        if (mode == Mode.LATENCY && latency == null && limit == null) {
            throw sh.error("mode", "latency mode needs latency: (the longest wait in the queue), or a limit:");
        }
        if (mode == Mode.LATENCY && sh.has("senders")) {
            throw sh.error("senders", "senders belongs to mode: backpressure");
        }
        if (limit != null && limit.bytes() == 0) {
            throw sh.error("limit", "0 bytes makes the qdisc drop every packet while senders see success");
        }
        int senders = (int) sh.integer("senders", 1, 1, 1024, "local sockets whose send buffers the queue holds");
        Size burst = sh.sizeOrAuto("burst");
        Long txq = null;
        if (sh.has("txqueuelen") && !"auto".equals(sh.text("txqueuelen"))) {
            txq = sh.integer("txqueuelen", 0, 1, 0xFFFFFFFFL, "packets in tun's own ring; auto derives it");
        }
        List<Profile.ClassDef> classes = classes(sh, linkRate, q);
        return new Profile.Shaping(q.name().toLowerCase(Locale.ROOT), mode, latency, senders, burst, limit, txq,
                classes, flows);
    }

    /** The priority classes: htb only, names unique, exactly one default, a match on the others, rates within the link's. */
    private static List<Profile.ClassDef> classes(Fields sh, Rate linkRate, Qdisc q) {
        List<YamlNode> items = sh.list("classes");
        if (!items.isEmpty() && q != Qdisc.HTB) {
            throw sh.error("classes", "priority classes need qdisc: htb");
        }
        List<Profile.ClassDef> classes = new ArrayList<>();
        Set<String> names = new HashSet<>();
        long sum = 0;
        Fields firstDefault = null;
        for (int i = 0; i < items.size(); i++) {
            Fields c = Fields.of(sh.file(), sh.path() + ".classes[" + i + "]", items.get(i), CLASS);
            Profile.ClassDef def = classDef(c, linkRate);
            if (!names.add(def.name())) {
                throw c.error("name", "'" + def.name() + "' names two classes; class names must differ");
            }
            if (def.isDefault()) {
                if (firstDefault != null) {
                    throw c.error("default", "a second default class; exactly one class takes unmatched traffic");
                }
                firstDefault = c;
            } else if (def.match() == null) {
                throw c.error("match", "missing: a class that is not the default needs a match, or no traffic "
                        + "reaches it");
            }
            sum += def.rate().bytesPerSecond();
            if (sum > linkRate.bytesPerSecond()) {
                throw c.error("rate", "the class rates add up to " + Rate.ofBytes(sum) + ", above the link rate "
                        + linkRate + "; htb cannot guarantee more than the link carries");
            }
            classes.add(def);
        }
        if (!classes.isEmpty() && firstDefault == null) {
            throw sh.error("classes", "no class has default: true; exactly one class must take unmatched traffic");
        }
        return classes;
    }

    private static Profile.ClassDef classDef(Fields c, Rate linkRate) {
        String name = c.string("name", true);
        if (!NAME.matcher(name).matches()) {
            throw c.error("name", "'" + name + "' is not accepted; lowercase letters, digits and '-'");
        }
        Rate rate = c.rate("rate", true);
        if (rate.compareTo(linkRate) > 0) {
            throw c.error("rate", rate + " is above the link rate " + linkRate);
        }
        Rate ceil = c.rate("ceil", false);
        if (ceil != null && ceil.compareTo(rate) < 0) {
            throw c.error("ceil", ceil + " is below the class rate " + rate + "; ceil must be at least the rate");
        }
        if (ceil != null && ceil.compareTo(linkRate) > 0) {
            throw c.error("ceil", ceil + " is above the link rate " + linkRate);
        }
        int prio = (int) c.integer("prio", 0, 0, 7, "0 is served first");
        Integer quantum = c.has("quantum") ? (int) c.integer("quantum", 0, 1, Integer.MAX_VALUE,
                "bytes a class sends per round") : null;
        boolean isDefault = c.bool("default", false);
        Profile.Match match = null;
        Fields m = c.sub("match", MATCH);
        if (m != null) {
            match = match(m);
        }
        return new Profile.ClassDef(name, rate, ceil, prio, quantum, match, isDefault);
    }

    private static Profile.Match match(Fields m) {
        Integer dscp = null;
        if (m.has("dscp")) {
            String t = m.text("dscp");
            Integer named = t == null ? null : DSCP.get(t.toUpperCase(Locale.ROOT));
            if (named != null) {
                dscp = named;
            } else {
                try {
                    dscp = (int) m.integer("dscp", 0, 0, 63, "a DSCP value");
                } catch (ProfileException e) {
                    throw m.error("dscp", "'" + t + "' is not a DSCP; accepted: a name (CS0-CS7, AF11-AF43, EF, VA, "
                            + "LE) or a number 0 to 63");
                }
            }
        }
        Integer proto = null;
        if (m.has("protocol")) {
            String t = m.text("protocol");
            Integer named = t == null ? null : PROTOCOLS.get(t.toLowerCase(Locale.ROOT));
            if (named != null) {
                proto = named;
            } else {
                try {
                    proto = (int) m.integer("protocol", 0, 0, 255, "an IP protocol number");
                } catch (ProfileException e) {
                    throw m.error("protocol", "'" + t + "' is not accepted; accepted: udp, tcp, sctp, icmp, icmpv6 "
                            + "or a number 0 to 255");
                }
            }
        }
        Integer sport = m.has("sport") ? (int) m.integer("sport", 0, 1, 65535, "a port") : null;
        Integer dport = m.has("dport") ? (int) m.integer("dport", 0, 1, 65535, "a port") : null;
        if ((sport != null || dport != null) && (proto == null || !(proto == 6 || proto == 17 || proto == 132))) {
            throw m.error(sport != null ? "sport" : "dport", "ports need protocol: udp, tcp or sctp");
        }
        if (dscp == null && proto == null) {
            throw m.error("dscp", "an empty match; give dscp:, or protocol: with optional sport:/dport:");
        }
        return new Profile.Match(dscp, proto, sport, dport);
    }
}
