package io.tunshape.link;

import io.tunshape.testing.KernelNs;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TunFlagsKernelTest {
    private static int index(KernelNs ns, String dev) {
        String out = ns.ip("-o", "link", "show", "dev", dev);
        return Integer.parseInt(out.substring(0, out.indexOf(':')).strip());
    }

    @Test
    void readsEachDevicesFlagsInsideAnotherNamespaceAsIpNetnsExecSeesThem() throws Exception {
        try (KernelNs ns = KernelNs.create()) {
            ns.tun("ft0").tap("ft1");
            ns.ip("link", "add", "fv0", "type", "veth", "peer", "name", "fv1");
            Map<String, Integer> ix = Map.of("ft0", index(ns, "ft0"), "ft1", index(ns, "ft1"), "fv0", index(ns, "fv0"));
            Map<String, Integer> flags = TunFlags.read(ns.name(), ix);
            // the oracle: sysfs as `ip netns exec` mounts it
            for (String d : new String[] {"ft0", "ft1"}) {
                String want = KernelNs.run("ip", "netns", "exec", ns.name(), "cat", "/sys/class/net/" + d + "/tun_flags");
                assertEquals(Integer.decode(want.strip()), flags.get(d), d);
            }
            assertEquals(TunFlags.IFF_TUN, flags.get("ft0") & 3);
            assertEquals(TunFlags.IFF_TAP, flags.get("ft1") & 3);
            assertFalse(TunFlags.flowControl(flags.get("ft0")), "ip tuntap never asks for IFF_BACKPRESSURE");
            assertFalse(flags.containsKey("fv0"), "a veth has no tun_flags");
            assertTrue(Files.isDirectory(Path.of("/sys/class/net/lo")), "the host's /sys is untouched");
            assertFalse(Files.exists(Path.of("/sys/class/net/ft0")), "the namespace's sysfs stayed on its thread");
        }
    }

    @Test
    void withNoNamespaceNamedItReadsTheCallingThreadsNamespaceNotTheProcesss() throws Exception {
        try (KernelNs ns = KernelNs.create()) {
            ns.tun("ft9");
            Map<String, Integer> ix = Map.of("ft9", index(ns, "ft9"));
            // a thread inside the namespace (as the demo's is) asks for "its own" namespace
            Map<String, Integer> flags = io.tunshape.netlink.Netns.run(ns.name(), () -> TunFlags.read(null, ix));
            String want = KernelNs.run("ip", "netns", "exec", ns.name(), "cat", "/sys/class/net/ft9/tun_flags");
            assertEquals(Integer.decode(want.strip()), flags.get("ft9"));
        }
    }

    @Test
    void theHostsSysfsIsNotTrustedForDevicesItDoesNotShow() throws Exception {
        assertNull(TunFlags.readIfSame(Path.of("/sys/class/net"), Map.of("lo", 999_999)));
        assertNull(TunFlags.readIfSame(Path.of("/sys/class/net"), Map.of("tunshape-no-such", 1)));
    }
}
