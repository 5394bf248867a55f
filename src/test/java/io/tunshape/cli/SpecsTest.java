package io.tunshape.cli;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;

import java.lang.reflect.Field;
import java.lang.reflect.ParameterizedType;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The programmatic model's assumptions about the commands' fields (Specs). */
class SpecsTest {
    @Test
    void everyListACommandBindsIsAListOfStrings() {
        List<CommandLine> all = new ArrayList<>();
        collect(CommandTree.whole(), all);
        int lists = 0;
        for (CommandLine c : all) {
            for (Field f : c.getCommand().getClass().getDeclaredFields()) {
                if (f.getType() == List.class) {
                    lists++;
                    assertEquals(String.class, ((ParameterizedType) f.getGenericType()).getActualTypeArguments()[0],
                            c.getCommand().getClass().getName() + "." + f.getName());
                }
            }
            for (ArgSpec a : c.getCommandSpec().args()) {
                if (a.type() == List.class) {
                    assertEquals(List.of(String.class), List.of(a.auxiliaryTypes()), c.getCommandName() + " " + a);
                }
            }
        }
        assertTrue(lists >= 4, "apply, show, clear and profiles validate bind lists: " + lists);
    }

    @Test
    void noCommandClassCarriesPicocliAnnotations() {
        List<CommandLine> all = new ArrayList<>();
        collect(CommandTree.whole(), all);
        for (CommandLine c : all) {
            Class<?> k = c.getCommand().getClass();
            if (k.getName().startsWith("io.tunshape")) {
                assertFalse(k.isAnnotationPresent(CommandLine.Command.class), k.getName());
                for (Field f : k.getDeclaredFields()) {
                    assertEquals(0, f.getAnnotations().length, k.getName() + "." + f.getName());
                }
            }
        }
    }

    private static void collect(CommandLine c, List<CommandLine> into) {
        into.add(c);
        for (CommandLine sub : c.getSubcommands().values()) {
            collect(sub, into);
        }
    }
}
