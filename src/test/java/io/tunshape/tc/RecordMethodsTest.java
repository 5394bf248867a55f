package io.tunshape.tc;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Constructor;
import java.lang.reflect.RecordComponent;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.StringJoiner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The records a one-shot command compares, hashes or prints write equals, hashCode and toString out
 * (issue 24: the generated ones bootstrap java.lang.runtime.ObjectMethods, 26 ms of a start). Each
 * must still behave as the record's own: every component counts, and toString, where the record does
 * not print itself its own way, reads as the generated one would.
 */
class RecordMethodsTest {
    /** The records on the one-shot paths (apply, show, clear), with whether toString is the record's form. */
    private static final List<Object[]> RECORDS = List.of(
            new Object[] {"io.tunshape.tc.Handle", false},
            new Object[] {"io.tunshape.tc.Rate", false},
            new Object[] {"io.tunshape.tc.Size", false},
            new Object[] {"io.tunshape.tc.TbfKernel", true},
            new Object[] {"io.tunshape.tc.TbfSpec", true},
            new Object[] {"io.tunshape.tc.TableKey", true},
            new Object[] {"io.tunshape.shape.ApplySteps$TbfKey", true});

    @Test
    void noRecordOnTheStartPathBootstrapsObjectMethods() throws Exception {
        for (Object[] r : RECORDS) {
            String name = (String) r[0];
            String bytes;
            try (InputStream in = RecordMethodsTest.class.getResourceAsStream("/" + name.replace('.', '/') + ".class")) {
                bytes = new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
            }
            assertFalse(bytes.contains("java/lang/runtime/ObjectMethods"), name + " uses the record's generated methods");
        }
    }

    @Test
    void everyComponentCountsAsInTheRecordsOwnMethods() throws Exception {
        for (Object[] r : RECORDS) {
            Class<?> c = Class.forName((String) r[0]);
            assertTrue(c.isRecord(), c.getName());
            Object a = make(c, 1);
            assertEquals(a, make(c, 1), c.getName());
            assertEquals(a.hashCode(), make(c, 1).hashCode(), c.getName());
            RecordComponent[] rc = c.getRecordComponents();
            for (int i = 0; i < rc.length; i++) {
                Object b = make(c, 1, i);
                assertNotEquals(a, b, c.getName() + " ignores " + rc[i].getName());
                assertNotEquals(a.hashCode(), b.hashCode(), c.getName() + "'s hashCode ignores " + rc[i].getName());
            }
            assertNotEquals(a, "x");
            if ((Boolean) r[1]) {
                StringJoiner j = new StringJoiner(", ", c.getSimpleName() + "[", "]");
                for (RecordComponent k : rc) {
                    k.getAccessor().setAccessible(true);
                    j.add(k.getName() + "=" + k.getAccessor().invoke(a));
                }
                assertEquals(j.toString(), a.toString());
            }
        }
    }

    private static Object make(Class<?> c, int v) throws Exception {
        return make(c, v, -1);
    }

    /** An instance whose components all have value {@code v}, but the {@code other}th, which has v + 1. */
    private static Object make(Class<?> c, int v, int other) throws Exception {
        RecordComponent[] rc = c.getRecordComponents();
        Class<?>[] types = new Class<?>[rc.length];
        Object[] args = new Object[rc.length];
        for (int i = 0; i < rc.length; i++) {
            types[i] = rc[i].getType();
            args[i] = value(types[i], i == other ? v + 1 : v);
        }
        Constructor<?> k = c.getDeclaredConstructor(types);
        k.setAccessible(true);
        return k.newInstance(args);
    }

    private static Object value(Class<?> t, int v) throws Exception {
        if (t == long.class) {
            return (long) v;
        }
        if (t == int.class) {
            return v;
        }
        if (t.isRecord()) {
            return make(t, v);
        }
        throw new IOException("no test value for " + t);
    }
}
