package io.tunshape.cli;

import io.tunshape.sys.Sys;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What Main sets before a command runs. */
class MainTest {
    private static final String INFLATION = "sun.reflect.inflationThreshold";

    @Test
    void oneShotCommandsKeepNativeReflectionAndCallLibcThroughFunctionsLongRunningOnesTheDefaults() {
        String before = System.getProperty(INFLATION);
        String calls = System.getProperty(Sys.ONE_SHOT_CALLS);
        try {
            for (String[] args : new String[][] {{"daemon"}, {"--netns", "n", "pump", "--dev", "t0"}, {"top"}, {"demo"}}) {
                System.clearProperty(INFLATION);
                System.clearProperty(Sys.ONE_SHOT_CALLS);
                Main.oneShotSettings(args);
                assertNull(System.getProperty(INFLATION), String.join(" ", args));
                assertNull(System.getProperty(Sys.ONE_SHOT_CALLS), String.join(" ", args));
            }
            for (String[] args : new String[][] {{"apply", "t0"}, {"--netns", "n", "show"}, {"--version"}, {}}) {
                System.clearProperty(INFLATION);
                System.clearProperty(Sys.ONE_SHOT_CALLS);
                Main.oneShotSettings(args);
                assertEquals(Integer.toString(Integer.MAX_VALUE), System.getProperty(INFLATION), String.join(" ", args));
                assertEquals("true", System.getProperty(Sys.ONE_SHOT_CALLS), String.join(" ", args));
            }
            System.setProperty(INFLATION, "15");
            System.setProperty(Sys.ONE_SHOT_CALLS, "false");
            Main.oneShotSettings("apply", "t0");
            assertEquals("15", System.getProperty(INFLATION), "a threshold given stays");
            assertEquals("false", System.getProperty(Sys.ONE_SHOT_CALLS), "a choice given stays");
        } finally {
            restore(INFLATION, before);
            restore(Sys.ONE_SHOT_CALLS, calls);
        }
    }

    @Test
    void jnaStartsAheadOnlyForApplyShowAndClearWithTheLaunchersDispatchLibrary(@TempDir Path dir) throws Exception {
        String path = System.getProperty("jna.boot.library.path");
        String nounpack = System.getProperty("jna.nounpack");
        try {
            System.setProperty("jna.boot.library.path", dir.toString());
            System.setProperty("jna.nounpack", "true");
            assertFalse(Main.preloads("apply", "t0", "--rate", "1mbit"), "no dispatch library there");
            Files.createFile(dir.resolve("libjnidispatch.so"));
            assertTrue(Main.preloads("apply", "t0", "--rate", "1mbit"));
            assertTrue(Main.preloads("--netns", "n", "show"));
            assertTrue(Main.preloads("-v", "clear", "t0"));
            assertFalse(Main.preloads("apply", "--help"));
            assertFalse(Main.preloads("show", "-V"));
            assertFalse(Main.preloads("status"));
            assertFalse(Main.preloads("profiles", "list"));
            assertFalse(Main.preloads("--version"));
            System.setProperty("jna.nounpack", "false");
            assertFalse(Main.preloads("apply", "t0"), "JNA may unpack its library: not ahead");
        } finally {
            restore("jna.boot.library.path", path);
            restore("jna.nounpack", nounpack);
        }
    }

    private static void restore(String key, String value) {
        if (value == null) {
            System.clearProperty(key);
        } else {
            System.setProperty(key, value);
        }
    }
}
