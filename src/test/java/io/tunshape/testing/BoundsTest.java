package io.tunshape.testing;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The factor kernels/junit hands the tests inside a guest: read strictly, 1 when absent. */
class BoundsTest {
    @Test
    void absentOrBlankIsNative() {
        assertEquals(1, Bounds.factor(null));
        assertEquals(1, Bounds.factor(" "));
    }

    @Test
    void aWholeNumberFromOneToAHundred() {
        assertEquals(10, Bounds.factor("10"));
        assertEquals(2, Bounds.factor(" 2 "));
    }

    @Test
    void anythingElseIsAnErrorNamingTheVariable() {
        for (String bad : new String[] {"0", "101", "-3", "1.5", "ten"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Bounds.factor(bad));
            assertTrue(e.getMessage().contains("TUNSHAPE_TEST_BOUND_FACTOR") && e.getMessage().contains(bad), e.getMessage());
        }
    }

    @Test
    void nativelyNothingIsWidened() {
        if (Bounds.factor() == 1) {
            assertEquals(20_000, Bounds.millis(20_000));
            assertEquals(5, Bounds.atLeast(5, 2, "segments"));
        }
    }
}
