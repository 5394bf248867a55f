package io.tunshape.cli;

import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.IGetter;
import picocli.CommandLine.Model.ISetter;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;
import picocli.CommandLine.Range;

import java.lang.reflect.Field;
import java.lang.reflect.ParameterizedType;
import java.util.List;

/**
 * The picocli model of the one-shot commands (tunshape itself, apply, show, clear, status, profiles),
 * built through picocli's programmatic API instead of its annotations (issue 24): reading annotations
 * made the JDK generate a proxy class for each annotation type at run time (no Java 17 class-data
 * archive holds them) and parse them, about 25 ms of every start for the top command alone. The
 * model is the one the annotations gave (each command's options in field order, the same labels,
 * types, defaults and initial values; CommandTreeTest, ManPageTest and CompletionTest hold help, the
 * man page and completion to it). The long-running and interactive commands (top, pump, demo,
 * daemon, completion) keep their annotations: only the whole tree (help, completion) builds them.
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

    /** A field of a command object, read and written by picocli (what its field binding does). */
    private static final class Bound implements IGetter, ISetter {
        private final Object owner;
        private final Field field;

        Bound(Object owner, String name) {
            this.owner = owner;
            try {
                this.field = owner.getClass().getDeclaredField(name);
            } catch (NoSuchFieldException e) {
                throw new IllegalStateException(owner.getClass().getName() + " has no field " + name, e);
            }
        }

        Class<?> type() {
            return field.getType();
        }

        /** What picocli calls the auxiliary types: a list's element type, else the field's own. */
        Class<?>[] elements() {
            if (field.getType() == List.class) {
                return new Class<?>[] {(Class<?>) ((ParameterizedType) field.getGenericType()).getActualTypeArguments()[0]};
            }
            return new Class<?>[] {field.getType()};
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
