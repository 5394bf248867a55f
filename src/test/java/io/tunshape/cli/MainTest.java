package io.tunshape.cli;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/** What Main sets before a command runs. */
class MainTest {
    private static final String INFLATION = "sun.reflect.inflationThreshold";

    @Test
    void oneShotCommandsKeepNativeReflectionAndLongRunningOnesTheDefault() {
        String before = System.getProperty(INFLATION);
        try {
            for (String[] args : new String[][] {{"daemon"}, {"--netns", "n", "pump", "--dev", "t0"}, {"top"}, {"demo"}}) {
                System.clearProperty(INFLATION);
                Main.nativeReflection(args);
                assertNull(System.getProperty(INFLATION), String.join(" ", args));
            }
            for (String[] args : new String[][] {{"apply", "t0"}, {"--netns", "n", "show"}, {"--version"}, {}}) {
                System.clearProperty(INFLATION);
                Main.nativeReflection(args);
                assertEquals(Integer.toString(Integer.MAX_VALUE), System.getProperty(INFLATION), String.join(" ", args));
            }
            System.setProperty(INFLATION, "15");
            Main.nativeReflection("apply", "t0");
            assertEquals("15", System.getProperty(INFLATION), "a threshold given stays");
        } finally {
            if (before == null) {
                System.clearProperty(INFLATION);
            } else {
                System.setProperty(INFLATION, before);
            }
        }
    }
}
