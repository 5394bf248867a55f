package io.tunshape.cli;

import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.IGetter;
import picocli.CommandLine.Model.ISetter;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;
import picocli.CommandLine.Range;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.List;

/**
 * Every command's picocli model is built through picocli's programmatic API (each command's
 * {@code spec} method, with these helpers) instead of its annotations (issue 24): reading
 * annotations made the JDK generate a proxy class for each annotation type at run time (no Java 17
 * class-data archive holds them) and parse them, 40 ms against 14 ms for the top command alone in a
 * fresh JVM. The model is the one the annotations gave: each command's options in field order, the
 * same labels, types, defaults, initial values, -h/-V as the standard-help mixin made them, and
 * picocli's help command as its annotations make it; CommandTreeTest, ManPageTest and CompletionTest
 * hold help, the man page and completion to it.
 */
final class Specs {
    private Specs() {
    }

    /** A command's spec: {@code command}'s own, with its help header and description. */
    static CommandSpec command(Object command, String name, String header, String... description) {
        CommandSpec spec = CommandSpec.wrapWithoutInspection(command).name(name);
        spec.usageMessage().header(header).description(description);
        return spec;
    }

    /** An option bound to {@code owner}'s field {@code field}, as {@code @Option} on that field makes it. */
    static OptionSpec.Builder option(Object owner, String field, String... names) {
        Bound b = new Bound(owner, field);
        return OptionSpec.builder(names).paramLabel("<" + field + ">").descriptionKey("").type(b.type()).auxiliaryTypes(b.elements())
                .getter(b).setter(b).initialValue(b.get());
    }

    /**
     * A positional parameter bound to {@code owner}'s field {@code field}, as {@code @Parameters} makes it;
     * {@code arity} null for the default (one value).
     */
    static PositionalParamSpec.Builder positional(Object owner, String field, String arity) {
        Bound b = new Bound(owner, field);
        PositionalParamSpec.Builder p = PositionalParamSpec.builder().paramLabel("<" + field + ">").descriptionKey("");
        if (arity == null) {
            p.required(true);
        } else {
            p.arity(arity).required(Range.valueOf(arity).min() > 0);
        }
        return p.type(b.type()).auxiliaryTypes(b.elements()).getter(b).setter(b).initialValue(b.get());
    }

    /**
     * -h and -V, as mixinStandardHelpOptions makes them (that mixin is an annotated class), after the
     * options {@code spec} has, for it and every subcommand under it but a help command (which has
     * its own -h), where they were when the mixin gave them: after a subcommand's own options and the
     * --netns, --json and -v it inherits.
     */
    static void helpOptions(CommandSpec spec) {
        if (!spec.helpCommand() && spec.findOption("--help") == null) {
            spec.addOption(OptionSpec.builder("-h", "--help").usageHelp(true).paramLabel("<helpRequested>")
                    .descriptionKey("mixinStandardHelpOptions.help").description("Show this help message and exit.")
                    .type(boolean.class).initialValue(false).build());
            spec.addOption(OptionSpec.builder("-V", "--version").versionHelp(true).paramLabel("<versionRequested>")
                    .descriptionKey("mixinStandardHelpOptions.version")
                    .description("Print version information and exit.").type(boolean.class).initialValue(false).build());
        }
        for (CommandLine sub : spec.subcommands().values()) {
            helpOptions(sub.getCommandSpec());
        }
    }

    /**
     * picocli's help command, as its annotations make it (HelpCommand is picocli's class: its fields
     * are private, and its -h is its own, not the standard one).
     */
    static CommandSpec help() {
        CommandLine.HelpCommand h = new CommandLine.HelpCommand();
        CommandSpec s = command(h, "help", "Display help information about the specified command.",
                "%nWhen no COMMAND is given, the usage help for the main command is displayed.",
                "If a COMMAND is specified, the help for that command is shown.%n");
        s.helpCommand(true);
        s.usageMessage().synopsisHeading("%nUsage: ");
        s.addOption(option(h, "helpRequested", "-h", "--help").usageHelp(true).descriptionKey("helpCommand.help")
                .description("Show usage help for the help command and exit.").build());
        s.addPositional(positional(h, "commands", "0..1").paramLabel("COMMAND").descriptionKey("helpCommand.command")
                .description("The COMMAND to display the usage help message for.").build());
        return s;
    }

    /** A field of a command object, read and written by picocli (what its field binding does). */
    private static final class Bound implements IGetter, ISetter {
        private final Object owner;
        private final Field field;

        Bound(Object owner, String name) {
            this.owner = owner;
            try {
                this.field = owner.getClass().getDeclaredField(name);
                if (Modifier.isPrivate(field.getModifiers())) {
                    field.setAccessible(true);
                }
            } catch (NoSuchFieldException e) {
                throw new IllegalStateException(owner.getClass().getName() + " has no field " + name, e);
            }
        }

        Class<?> type() {
            return field.getType();
        }

        /**
         * What picocli calls the auxiliary types: a list's element type, else the field's own. Every list
         * a command has is a {@code List<String>} (SpecsTest): reading the field's generic type would
         * load and run the JDK's signature parser on every start.
         */
        Class<?>[] elements() {
            return new Class<?>[] {field.getType() == List.class ? String.class : field.getType()};
        }

        @Override
        @SuppressWarnings("unchecked")
        public <T> T get() {
            try {
                return (T) field.get(owner);
            } catch (IllegalAccessException e) {
                throw new IllegalStateException(e);
            }
        }

        @Override
        public <T> T set(T value) {
            T old = get();
            try {
                field.set(owner, value);
            } catch (IllegalAccessException e) {
                throw new IllegalStateException(e);
            }
            return old;
        }
    }
}
