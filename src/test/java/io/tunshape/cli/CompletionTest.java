package io.tunshape.cli;

import io.tunshape.testing.CliRun;
import io.tunshape.testing.KernelNs;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** `tunshape completion bash`: the committed script matches, and it completes what it promises. */
class CompletionTest {
    @Test
    void committedScriptMatchesTheCommands() throws Exception {
        CliRun r = CliRun.of("completion", "bash");
        assertEquals(0, r.status(), r.toString());
        assertEquals(r.out(), Files.readString(Path.of("completion/tunshape.bash")),
                "completion/tunshape.bash is stale: java -jar target/tunshape.jar completion bash > completion/tunshape.bash");
        assertEquals(2, CliRun.of("completion", "zsh").status());
    }

    private static String complete(KernelNs ns, String words, int cword) {
        String script = "source completion/tunshape.bash 2>/dev/null; COMP_WORDS=(" + words + "); COMP_CWORD=" + cword
                + "; _complete_tunshape 2>/dev/null; echo \"${COMPREPLY[*]}\"";
        return ns.exec(List.of("bash", "-c", script)).trim();
    }

    @Test
    void completesCommandsOptionsProfilesDevicesAndNamespaces() {
        try (KernelNs ns = KernelNs.create()) {
            ns.tap("tap7").tun("tun7");
            ns.ip("link", "add", "veth7", "type", "veth", "peer", "name", "veth8");
            assertEquals("apply", complete(ns, "tunshape ap", 1));
            assertEquals("--rate", complete(ns, "tunshape apply --ra", 2));
            assertEquals("ax25-1200-afsk ax25-9600-g3ruh", complete(ns, "tunshape apply -p ax25", 3));
            assertEquals("tap7 tun7", complete(ns, "tunshape apply ''", 2), "tun/tap devices only");
            assertTrue(complete(ns, "tunshape --netns tstest", 2).contains(ns.name()));
            assertTrue(complete(ns, "tunshape profiles show wire", 3).contains("wireguard-10mbit"));
        }
    }
}
