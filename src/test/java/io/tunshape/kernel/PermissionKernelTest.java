package io.tunshape.kernel;

import io.tunshape.testing.KernelNs;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Without CAP_NET_ADMIN (dropped with setpriv from a root process) the kernel says EPERM: exit 4. */
class PermissionKernelTest {
    private static KernelNs.Exec tunshapeWithout(String caps, String... args) {
        return KernelNs.tunshapeWithout(List.of(), caps, args);
    }

    @Test
    void withoutNetAdminApplyExitsFourAndChangesNothing() {
        try (KernelNs ns = KernelNs.create()) {
            ns.tun("t0");
            KernelNs.Exec e = tunshapeWithout("-net_admin", "--netns", ns.name(), "apply", "t0", "--rate", "1mbit");
            assertEquals(4, e.status(), e.output());
            assertTrue(e.output().contains("Operation not permitted") && e.output().contains("CAP_NET_ADMIN"), e.output());
            assertTrue(e.output().contains("nothing was changed"), e.output());
            assertFalse(ns.tc("qdisc", "show", "dev", "t0").contains("tbf"));
        }
    }

    @Test
    void withoutSysAdminNetnsExitsFour() {
        try (KernelNs ns = KernelNs.create()) {
            KernelNs.Exec e = tunshapeWithout("-sys_admin", "--netns", ns.name(), "show");
            assertEquals(4, e.status(), e.output());
            assertTrue(e.output().contains("setns") && e.output().contains("CAP_SYS_ADMIN"), e.output());
        }
    }
}
