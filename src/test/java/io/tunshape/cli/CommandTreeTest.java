package io.tunshape.cli;

import io.tunshape.testing.CliRun;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A run builds only the invoked command's model (issue 24); what it prints is the whole tree's. */
class CommandTreeTest {
    @Test
    void aRunBuildsTheTopCommandAndOnlyTheSubcommandItNames() {
        CommandLine one = CommandTree.forArgs("--netns", "ns1", "apply", "t0", "--rate", "1mbit");
        assertEquals(List.of("apply"), List.copyOf(one.getSubcommands().keySet()));
        assertTrue(CommandTree.forArgs("--version").getSubcommands().isEmpty(), "--version builds no subcommand");
        assertEquals(List.of("list", "show", "validate"),
                List.copyOf(CommandTree.forArgs("profiles", "list").getSubcommands().get("profiles")
                        .getSubcommands().keySet()));
    }

    @Test
    void helpCompletionNoCommandAndAmbiguousArgumentsGetTheWholeTree() {
        assertNull(CommandTree.forArgs());
        assertNull(CommandTree.forArgs("--help"));
        assertNull(CommandTree.forArgs("--version", "--help"));
        assertNull(CommandTree.forArgs("help", "apply"));
        assertNull(CommandTree.forArgs("completion", "bash"));
        assertNull(CommandTree.forArgs("aply", "t0"));
        // --netns's value is also a command's name: the whole tree refuses it, as before
        assertNull(CommandTree.forArgs("--netns", "show", "apply", "t0"));
        CliRun r = CliRun.of("--netns", "show", "apply", "t0");
        assertEquals(2, r.status(), r.toString());
    }

    @Test
    void everyCommandsHelpAndOptionsAreTheWholeTreesOnes() {
        CommandLine whole = CommandTree.whole();
        assertEquals(CommandTree.NAMES, List.copyOf(whole.getSubcommands().keySet()));
        List<String[]> commands = new ArrayList<>();
        for (Map.Entry<String, CommandLine> e : whole.getSubcommands().entrySet()) {
            commands.add(new String[] {e.getKey()});
            for (String sub : e.getValue().getSubcommands().keySet()) {
                commands.add(new String[] {e.getKey(), sub});
            }
        }
        for (String[] c : commands) {
            if (c[0].equals("help") || c[0].equals("completion")) {
                continue;
            }
            CommandLine one = CommandTree.forArgs(c);
            CommandSpec fromOne = find(one, c).getCommandSpec();
            CommandSpec fromWhole = find(whole, c).getCommandSpec();
            assertEquals(names(fromWhole), names(fromOne), String.join(" ", c) + ": options and their order");
            assertEquals(usage(find(whole, c)), usage(find(one, c)), String.join(" ", c) + ": help");
        }
    }

    @Test
    void aParseErrorIsTheWholeTreesAndAnErrorWhileRunningIsNotParsedAgain() {
        CliRun r = CliRun.of("profiles", "lst");
        assertEquals(2, r.status());
        assertTrue(r.err().contains("Did you mean") || r.err().contains("list"), r.err());
        CliRun run = CliRun.of("status", "--socket", "/nonexistent/tunshape-test.sock");
        assertEquals(ExitCodes.NO_SUCH, run.status(), run.toString());
        assertEquals(1, run.err().lines().count(), "said once: " + run.err());
    }

    private static CommandLine find(CommandLine top, String[] path) {
        CommandLine c = top;
        for (String p : path) {
            c = c.getSubcommands().get(p);
        }
        return c;
    }

    private static List<String> names(CommandSpec spec) {
        List<String> l = new ArrayList<>();
        for (OptionSpec o : spec.options()) {
            l.add(o.longestName());
        }
        return l;
    }

    private static String usage(CommandLine c) {
        StringWriter w = new StringWriter();
        c.usage(new PrintWriter(w));
        return w.toString();
    }
}
