package io.tunshape.fuzz;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.tunshape.netlink.NetlinkException;

/**
 * Coverage-guided fuzzing with Jazzer (libFuzzer in the JVM): the decoders of the jqwik properties
 * held to the same invariants ({@link Fuzz#check}: only the documented exception, no hang, bounded
 * allocation), on inputs that Jazzer mutates towards new branches.
 *
 * <p>In {@code mvn verify} (JAZZER_FUZZ unset) each method runs once per file of its corpus,
 * src/test/resources/io/tunshape/fuzz/JazzerFuzzTestInputs/METHOD/ (the jqwik properties' seeds: the
 * netlink replies and tunshape's requests, the reports; the shipped and bad profiles and the
 * configurations are copied there by the pom), as regression tests. {@code JAZZER_FUZZ=1} fuzzes
 * one method for its maxDuration (bench/fuzz.sh runs each in turn); what it finds is written into
 * that method's corpus directory and so becomes a regression test.
 */
class JazzerFuzzTest {
    /** Datagram splitting, acks, dumps and events; the same bytes as tc options; attributes read every way. */
    @FuzzTest(maxDuration = "10m")
    void netlink(byte[] d) {
        Fuzz.check("jazzer.netlink.datagram", d, 64, () -> NetlinkFuzzTest.decodeAll(d), NetlinkException.class);
        Fuzz.check("jazzer.netlink.tc-options", d, 64, () -> NetlinkFuzzTest.decodeOptions(d), NetlinkException.class);
        Fuzz.check("jazzer.netlink.attrs", d, 64, () -> NetlinkFuzzTest.readAllAttributes(d), NetlinkException.class);
    }

    @FuzzTest(maxDuration = "10m")
    void report(byte[] d) {
        ReportFuzzTest.checkDatagram(d);
    }

    @FuzzTest(maxDuration = "10m")
    void profile(byte[] in) {
        ProfileFuzzTest.checkProfile(in);
    }

    @FuzzTest(maxDuration = "10m")
    void daemonConfig(byte[] in) {
        ProfileFuzzTest.checkConfig(in);
    }

    /** SLIP and KISS de-framing: the stream, cut where the input's last 8 bytes say. */
    @FuzzTest(maxDuration = "10m")
    void slipKiss(FuzzedDataProvider data) {
        long cuts = data.consumeLong();
        FramingFuzzTest.checkStream(data.consumeRemainingAsBytes(), cuts);
    }
}
