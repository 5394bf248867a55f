package io.tunshape.profile;

import io.tunshape.tc.Psched;
import io.tunshape.testing.CliRun;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every file in src/test/resources/bad-profiles is refused at the right place with a useful message. */
class BadProfilesTest {
    private static final Path DIR = Path.of("src/test/resources/bad-profiles");
    private final ProfileLoader loader = new ProfileLoader(List.of(DIR), new Planner(Psched.DEFAULT, 212992));

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        "alias-bomb           | 2:8   | alias '*a'",
        "bool-for-rate        | 5:9   | link.rate: expected a number with bit",
        "burst-below-frame    | 9:10  | shaping.burst: 1000 bytes is below one full frame",
        "ceil-below-rate      | 12:13 | shaping.classes[0].ceil: 2.4kbit is below the class rate",
        "class-rate-above-link| 11:13 | shaping.classes[0].rate: 19.2kbit is above the link rate",
        "class-rates-sum-above-link | 14:13 | the class rates add up to 12kbit",
        "class-without-match  | 10:7  | shaping.classes[0].match: missing",
        "classes-without-htb  | 9:5   | priority classes need qdisc: htb",
        "dscp-unknown         | 12:21 | 'CS9' is not a DSCP; accepted: a name (CS0-CS7",
        "duplicate-key        | 6:7   | Duplicate field 'rate'",
        "empty                | 1:1   | the file is empty",
        "flows-not-a-number   | 7:10  | found the string 'many'",
        "flows-one            | 7:10  | shaping.flows: 1 is one queue for every flow",
        "flows-too-many       | 7:10  | shaping.flows: 5000 is out of range; accepted: 0 to 1024",
        "flows-with-tbf       | 8:10  | flow queues are htb classes; they need qdisc: htb",
        "headroom-too-large   | 9:13  | 80% is out of range; accepted: 0% to 50%",
        "htb-burst-over-ticks | 9:10  | htb's bucket holds at most 274.9 s",
        "latency-and-limit    | 8:10  | give either limit or latency",
        "latency-in-backpressure | 8:12 | latency belongs to mode: latency",
        "latency-zero         | 7:12  | 0 leaves no room to queue",
        "limit-below-burst    | 8:10  | 2048 bytes is below the burst (4096 bytes)",
        "min-above-max        | 7:13  | min_rate must not exceed max_rate",
        "missing-link         | 1:1   | link: missing",
        "missing-source       | 1:1   | source: missing",
        "mode-unknown         | 7:9   | 'fast' is not accepted; accepted: backpressure, latency",
        "mtu-too-small        | 6:8   | link.mtu: 40 is out of range; accepted: 68 to 65535",
        "name-mismatch        | 1:7   | does not match the file name 'name-mismatch'",
        "no-default-class     | 10:5  | no class has default: true",
        "only-comments        | 1:1   | the file holds no YAML document",
        "overhead-negative    | 6:13  | link.overhead: -1 is out of range",
        "ports-without-protocol | 12:22 | ports need protocol: udp, tcp or sctp",
        "rate-unknown-unit    | 5:9   | unknown unit 'kbitz' in '9600kbitz'",
        "rate-wrong-type      | 5:9   | found a list",
        "rate-zero            | 5:9   | the smallest rate is 8bit",
        "senders-in-latency-mode | 8:12 | senders belongs to mode: backpressure",
        "string-for-number    | 6:8   | found the string 'lots'",
        "syntax-error         | 3:7   | YAML syntax error",
        "tab-indent           | 5:1   | YAML syntax error",
        "top-level-list       | 1:1   | expected a mapping",
        "two-default-classes  | 15:16 | a second default class",
        "two-documents        | 7:1   | a second YAML document",
        "txqueuelen-zero      | 8:15  | shaping.txqueuelen: 0 is out of range",
        "unknown-key          | 4:1   | unknown key 'linkk'; did you mean 'link'?",
        "unknown-nested-key   | 6:3   | unknown key 'link.rat'; did you mean 'rate'?",
    })
    void refusedWithPositionAndReason(String name, String position, String reason) {
        Path file = DIR.resolve(name + ".yaml");
        ProfileException e = assertThrows(ProfileException.class, () -> loader.loadFile(file));
        assertEquals(position, e.line() + ":" + e.column(), e.getMessage());
        assertTrue(e.getMessage().contains(reason), e.getMessage());
        assertTrue(e.getMessage().startsWith(file + ":" + position + ": "), e.getMessage());
        CliRun r = CliRun.of("profiles", "validate", file.toString());
        assertEquals(2, r.status(), r.toString());
        assertTrue(r.err().contains(file + ":" + position), r.err());
        assertFalse(r.err().contains("Exception"), "no stack trace: " + r.err());
    }

    @Test
    void everyBadFileIsListedAbove() throws IOException {
        try (var s = Files.list(DIR)) {
            assertEquals(44, s.count(), "a new bad profile needs its expectation in the table");
        }
    }

    @Test
    void nonUtf8BytesAreRefusedWithTheirPlace(@TempDir Path tmp) throws IOException {
        Path f = tmp.resolve("latin1.yaml");
        byte[] head = "name: latin1\ndescription: caf".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        byte[] tail = "\nsource: t\nlink:\n  rate: 9600bit\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        byte[] all = new byte[head.length + 1 + tail.length];
        System.arraycopy(head, 0, all, 0, head.length);
        all[head.length] = (byte) 0xE9; // é in Latin-1
        System.arraycopy(tail, 0, all, head.length + 1, tail.length);
        Files.write(f, all);
        ProfileException e = assertThrows(ProfileException.class, () -> loader.loadFile(f));
        assertEquals("2:17", e.line() + ":" + e.column(), e.getMessage());
        assertTrue(e.getMessage().contains("byte 0xe9 is not UTF-8"), e.getMessage());
    }

    @Test
    void hugeFilesAreRefusedBeforeParsing(@TempDir Path tmp) throws IOException {
        Path f = tmp.resolve("huge.yaml");
        Files.writeString(f, "name: huge\ndescription: " + "x".repeat(1 << 20) + "\n");
        ProfileException e = assertTimeoutPreemptively(Duration.ofSeconds(5),
                () -> assertThrows(ProfileException.class, () -> loader.loadFile(f)));
        assertTrue(e.getMessage().contains("at most 262144"), e.getMessage());
    }

    @Test
    void deepNestingIsRefusedWithoutAStackOverflow(@TempDir Path tmp) throws IOException {
        Path f = tmp.resolve("deep.yaml");
        Files.writeString(f, "name: deep\ndescription: " + "[".repeat(5000) + "]".repeat(5000) + "\n");
        ProfileException e = assertTimeoutPreemptively(Duration.ofSeconds(5),
                () -> assertThrows(ProfileException.class, () -> loader.loadFile(f)));
        assertTrue(e.getMessage().contains("deep") || e.getMessage().contains("depth")
                || e.getMessage().contains("nest"), e.getMessage());
    }

    @Test
    void unknownProfileNameSuggestsTheNearest() {
        ProfileLoader lib = new ProfileLoader(List.of(DIR), new Planner(Psched.DEFAULT, 212992));
        ProfileException e = assertThrows(ProfileException.class, () -> lib.load("rate-zer"));
        assertTrue(e.getMessage().contains("did you mean 'rate-zero'?"), e.getMessage());
    }
}
