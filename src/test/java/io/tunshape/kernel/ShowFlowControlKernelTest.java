package io.tunshape.kernel;

import com.fasterxml.jackson.databind.JsonNode;
import io.tunshape.netlink.Netns;
import io.tunshape.testing.CliRun;
import io.tunshape.testing.KernelNs;
import io.tunshape.tun.TunDevice;
import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.Map;

import static io.tunshape.kernel.ReadbackMatrixKernelTest.readJson;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * show and show --json say, per tun/tap device of any driver, its tun_flags and whether kernel flow
 * control (IFF_BACKPRESSURE) is on, as `ip netns exec NS cat /sys/class/net/DEV/tun_flags` sees them.
 * Where the kernel offers the flag (Linux 7.3), a device attached with it shows "on".
 */
class ShowFlowControlKernelTest {
    private static String sysfs(KernelNs ns, String dev) {
        return KernelNs.run("ip", "netns", "exec", ns.name(), "cat", "/sys/class/net/" + dev + "/tun_flags").strip();
    }

    @Test
    void showSaysPerTunDeviceWhetherKernelFlowControlIsOn() throws Exception {
        KernelNs.requireRoot();
        boolean offered = (TunDevice.features() & TunDevice.IFF_BACKPRESSURE) != 0;
        try (KernelNs ns = KernelNs.create()) {
            ns.tun("sf0").tap("sf1");
            ns.ip("link", "add", "sv0", "type", "veth", "peer", "name", "sv1");
            // a device attached by this process (a driver of its own), with the flag where it is offered
            try (TunDevice held = Netns.run(ns.name(), () -> TunDevice.open("sf2", false, offered))) {
                assertEquals(offered, held.backpressure());
                Map<String, Boolean> expected = new HashMap<>(Map.of("sf0", false, "sf1", false, "sf2", offered));

                CliRun json = CliRun.of("--netns", ns.name(), "--json", "show");
                assertEquals(0, json.status(), json.toString());
                int seen = 0;
                for (JsonNode i : readJson(json.out()).get("interfaces")) {
                    String dev = i.get("interface").asText();
                    if (dev.startsWith("sv")) {
                        assertFalse(i.has("tun_flags") || i.has("kernel_flow_control"), "a veth has none: " + i);
                        continue;
                    }
                    assertEquals(sysfs(ns, dev), i.get("tun_flags").asText(), i.toString());
                    assertEquals(expected.get(dev), i.get("kernel_flow_control").asBoolean(), i.toString());
                    assertEquals(expected.get(dev), (Integer.decode(i.get("tun_flags").asText())
                            & TunDevice.IFF_BACKPRESSURE) != 0, i.toString());
                    seen++;
                }
                assertEquals(3, seen, json.out());

                CliRun text = CliRun.of("--netns", ns.name(), "show", "sf*", "sv0");
                assertEquals(0, text.status(), text.toString());
                for (Map.Entry<String, Boolean> e : expected.entrySet()) {
                    String want = e.getKey() + "  " + (e.getKey().equals("sf1") ? "tap" : "tun");
                    assertTrue(text.out().lines().anyMatch(l -> l.startsWith(want)
                            && l.endsWith("  kernel flow control " + (e.getValue() ? "on" : "off"))), text.out());
                }
                assertTrue(text.out().lines().noneMatch(l -> l.startsWith("sv0") && l.contains("flow control")),
                        text.out());
            }
        }
    }
}
