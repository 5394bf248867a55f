package io.tunshape.daemon;

import io.tunshape.profile.ProfileException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DaemonConfigTest {
    private static DaemonConfig parse(String yaml) {
        return DaemonConfig.parse(yaml.getBytes(StandardCharsets.UTF_8), "tunshape.yaml");
    }

    @Test
    void theSpecExampleParses() {
        DaemonConfig c = parse("""
                report_socket: /run/tunshape/report.sock
                control_socket: /run/tunshape/control.sock
                metrics: 127.0.0.1:9713
                restore_on_exit: true
                interfaces:
                  - match: "tap*"
                    netns: "*"
                    profile: acoustic-modem-9600
                    adaptive: true
                """);
        assertEquals("/run/tunshape/report.sock", c.reportSocket());
        assertEquals("127.0.0.1:9713", c.metrics());
        assertTrue(c.restoreOnExit());
        assertEquals(new DaemonConfig.Entry("tap*", "*", "acoustic-modem-9600", true), c.interfaces().get(0));
        assertEquals(RateController.Tuning.DEFAULT, c.tuning());
    }

    @Test
    void theShippedExampleSaysTheDefaults() {
        // examples/systemd/tunshape.yaml (the package's /etc/tunshape/tunshape.yaml) lists the control
        // defaults as a user would tune them
        DaemonConfig c = DaemonConfig.load(java.nio.file.Path.of("examples/systemd/tunshape.yaml"));
        assertEquals(RateController.Tuning.DEFAULT, c.tuning());
        assertEquals(DaemonConfig.Scheduling.DEFAULT, c.reportScheduling());
        assertEquals(2, c.interfaces().size());
    }

    @Test
    void theReportThreadIsScheduledNormallyUnlessToldDeadline() {
        String ifs = "interfaces:\n  - {match: t0, profile: p}\n";
        assertFalse(parse(ifs).reportScheduling().deadline());
        assertFalse(parse("report_scheduling: {policy: normal}\n" + ifs).reportScheduling().deadline());
        assertEquals(new DaemonConfig.Scheduling(true, 2_000_000, 10_000_000),
                parse("report_scheduling: {policy: deadline}\n" + ifs).reportScheduling());
        assertEquals(new DaemonConfig.Scheduling(true, 1_000_000, 5_000_000),
                parse("report_scheduling: {policy: deadline, runtime: 1ms, period: 5ms}\n" + ifs).reportScheduling());
        // a period alone: the default's share of a CPU, a fifth of it
        assertEquals(new DaemonConfig.Scheduling(true, 200_000, 1_000_000),
                parse("report_scheduling: {policy: deadline, period: 1ms}\n" + ifs).reportScheduling());
    }

    @Test
    void defaultsApply() {
        DaemonConfig c = parse("interfaces:\n  - match: t0\n    profile: p\n");
        assertEquals("/run/tunshape/control.sock", c.controlSocket());
        assertNull(c.metrics());
        assertNull(c.interfaces().get(0).netns());
        assertFalse(c.interfaces().get(0).adaptive());
        assertEquals(1000, c.tuning().drainMs());
        assertEquals(300, c.tuning().ringTargetMs());
        assertEquals(500, c.tuning().minIntervalMs());
        assertEquals(0.5, c.tuning().alpha());
        assertEquals(0, parse("control: {ring_target: 0s}\ninterfaces:\n  - {match: t0, profile: p}\n").tuning()
                .ringTargetMs());
        assertEquals(250, parse("control: {drain: 250ms}\ninterfaces:\n  - {match: t0, profile: p}\n").tuning()
                .drainMs());
        assertEquals(2000, c.stallAfterMs());
        assertEquals(500, parse("stall_after: 500ms\ninterfaces:\n  - {match: t0, profile: p}\n").stallAfterMs());
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        "interfaces:\\n  - match: t0\\n    profle: p\\n                  | 3:5  | did you mean 'profile'?",
        "interfaces: []\\n                                             | 1:13 | missing or empty",
        "metrics: 0.0.0.0:9713\\ninterfaces:\\n  - {match: t0, profile: p}\\n | 1:10 | loopback only",
        "report_socket: run/r.sock\\ninterfaces:\\n  - {match: t0, profile: p}\\n | 1:16 | not an absolute path",
        "interfaces:\\n  - {match: t0}\\n                              | 2:5  | profile: missing",
        "interfaces:\\n  - {match: t0, profile: p, adaptive: maybe}\\n     | 2:39 | expected true or false",
        "control: {stale_after: 2h}\\ninterfaces:\\n  - {match: t0, profile: p}\\n | 1:24 | unknown unit 'h'",
        "control: {drain: 0s}\\ninterfaces:\\n  - {match: t0, profile: p}\\n   | 1:18 | at least 1ms",
        "restore_on_exit: yes please\\ninterfaces:\\n  - {match: t0, profile: p}\\n | 1:18 | expected true or false",
        "report_scheduling: {policy: fifo}\\ninterfaces:\\n  - {match: t0, profile: p}\\n | 1:29 | accepted: normal, deadline",
        "report_scheduling: {policy: deadline, runtime: 20ms}\\ninterfaces:\\n  - {match: t0, profile: p}\\n | 1:48 | up to the period, 10ms",
        "report_scheduling: {policy: deadline, period: 50us}\\ninterfaces:\\n  - {match: t0, profile: p}\\n | 1:47 | from 100us to 1s",
        "report_scheduling: {runtime: 1ms}\\ninterfaces:\\n  - {match: t0, profile: p}\\n | 1:30 | the default policy is normal",
        "stall_after: 50ms\\ninterfaces:\\n  - {match: t0, profile: p}\\n | 1:14 | from 100ms to 3600s",
        "stall_after: 2 weeks\\ninterfaces:\\n  - {match: t0, profile: p}\\n | 1:14 | stall_after",
        "report_scheduling: {policy: normal, runtime: 1ms}\\ninterfaces:\\n  - {match: t0, profile: p}\\n | 1:46 | policy: deadline only",
    })
    void badConfigsAreRefusedWithTheirPosition(String yaml, String position, String reason) {
        ProfileException e = assertThrows(ProfileException.class, () -> parse(yaml.replace("\\n", "\n")));
        assertEquals(position, e.line() + ":" + e.column(), e.getMessage());
        assertTrue(e.getMessage().contains(reason), e.getMessage());
    }

    private static NsFacts unnamed(String hostname, String command, String cmdline, String containerId,
                                   String containerName) {
        return new NsFacts(4026532001L, false, java.util.List.of(), 4242, hostname, command, cmdline, containerId,
                containerName);
    }

    @Test
    void rulesSelectNamespacesByNameHostnameCommandAndContainer() {
        DaemonConfig c = parse("""
                interfaces:
                  - {match: "eth*", hostname: "n*", profile: p}
                  - {match: "h*-eth*", command: "*mininet:h*", profile: p}
                  - {match: "tap*", container: "radio-*", profile: p}
                  - {match: "emu-*", netns: "*", profile: p}
                  - {match: "tap*", netns: "lab-?", profile: p}
                  - {match: "wg0", profile: p}
                  - {match: "x*", netns: "*", hostname: "n1", profile: p}
                """);
        var r = c.interfaces();
        NsFacts core = unnamed("n3", "vnoded", "vnoded -v -c /tmp/n3.ctl", null, null);
        NsFacts mininet = unnamed("vm", "bash", "bash --norc --noediting -is mininet:h1", null, null);
        NsFacts docker = unnamed("3f2a", "sleep", "sleep infinity", "3f2a".repeat(16), "radio-1");
        NsFacts named = new NsFacts(4026532002L, false, java.util.List.of("/run/netns/lab-1"), 0, null, null, null,
                null, null);
        NsFacts own = new NsFacts(4026531840L, true, java.util.List.of(), 1, "vm", "systemd", "/sbin/init", null, null);
        assertTrue(r.get(0).selects(core));
        assertFalse(r.get(0).selects(mininet));
        assertTrue(r.get(1).selects(mininet), "the command line, not only the command name");
        assertFalse(r.get(1).selects(core));
        assertTrue(r.get(2).selects(docker), "by the container's name");
        assertTrue(new DaemonConfig.Entry("tap*", null, "p", false, null, null, "3f2a3f2a*").selects(docker),
                "by the container's id");
        assertFalse(r.get(2).selects(core));
        for (NsFacts f : new NsFacts[] {core, mininet, docker, named, own}) {
            assertTrue(r.get(3).selects(f), "* selects every namespace: " + f);
        }
        assertTrue(r.get(4).selects(named));
        assertFalse(r.get(4).selects(core), "an unnamed namespace has no name to match");
        assertTrue(r.get(5).selects(own));
        assertFalse(r.get(5).selects(named), "no selector: the daemon's own namespace only");
        assertTrue(r.get(6).selects(unnamed("n1", "vnoded", "vnoded", null, null)), "every selector must match");
        assertFalse(r.get(6).selects(core));
        assertEquals("hostname n3, vnoded pid 4242", core.label());
        assertEquals("container radio-1, hostname 3f2a, sleep pid 4242", docker.label());
        assertEquals("lab-1", named.label());
    }

    @Test
    void anEmptySelectorIsRefusedWithItsPosition() {
        ProfileException e = assertThrows(ProfileException.class, () -> parse("""
                interfaces:
                  - {match: "tap*", hostname: "", profile: p}
                """));
        assertTrue(e.getMessage().contains("hostname") && e.getMessage().contains("tunshape.yaml:2"), e.getMessage());
    }
}
