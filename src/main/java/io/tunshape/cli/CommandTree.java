package io.tunshape.cli;

import picocli.CommandLine;

import java.util.List;

/**
 * The picocli model, built whole or for one command. Each command's model is built without
 * annotations (Specs); still, building a command costs, so a run builds only the top command and the
 * one subcommand its arguments name (issue 24); help, completion, the man page and every parse error
 * get the whole tree, so what they print comes from the same model as before.
 */
final class CommandTree {
    /** The subcommands in the order help, the man page and completion list them. */
    static final List<String> NAMES = List.of("apply", "show", "top", "clear", "profiles", "pump", "demo", "daemon",
            "status", "completion", "help");

    private static final String EXCLUDES = "picocli.converters.excludes";

    static {
        // picocli's parser registers a converter for every java.sql and java.time type it knows, by
        // reflection, on every start (71 classes and the java.sql module); no option here has such a type
        if (System.getProperty(EXCLUDES) == null) {
            System.setProperty(EXCLUDES, "java\\.sql\\..*,java\\.time\\..*");
        }
    }

    private CommandTree() {
    }

    /** The top command with every subcommand. */
    static CommandLine whole() {
        TunshapeCommand top = new TunshapeCommand();
        CommandLine cl = new CommandLine(TunshapeCommand.spec(top));
        for (String name : NAMES) {
            cl.addSubcommand(name, command(top, name));
        }
        return versioned(cl);
    }

    /**
     * The top command with only the subcommand {@code args} name, or with none for a bare --version;
     * null when the run needs the whole tree (no subcommand, help, completion, or a top-level option's
     * value that is also a subcommand's name, which picocli refuses when it knows that subcommand;
     * what follows the subcommand is parsed against the subcommand's own, complete, model).
     */
    static CommandLine forArgs(String... args) {
        int at = subcommandIndex(args);
        if (at < 0) {
            return versionOnly(args) ? versioned(new CommandLine(TunshapeCommand.spec(new TunshapeCommand()))) : null;
        }
        String name = args[at];
        if (name.equals("help") || name.equals("completion")) {
            return null;
        }
        for (int i = 0; i < at; i++) {
            if (NAMES.contains(args[i])) {
                return null;
            }
        }
        TunshapeCommand top = new TunshapeCommand();
        CommandLine cl = new CommandLine(TunshapeCommand.spec(top));
        cl.addSubcommand(name, command(top, name));
        return versioned(cl);
    }

    /**
     * Gives every command of the tree -h and -V (Specs.helpOptions) and the version provider, once the
     * tree is built: picocli calls a
     * parent's provider when a subcommand joins it (reading version.properties on every start), and
     * only -V needs what it says.
     */
    private static CommandLine versioned(CommandLine cl) {
        if (cl.getParent() == null) {
            Specs.helpOptions(cl.getCommandSpec());
        }
        cl.getCommandSpec().versionProvider(VERSION);
        for (CommandLine sub : cl.getSubcommands().values()) {
            versioned(sub);
        }
        return cl;
    }

    private static final CommandLine.IVersionProvider VERSION = new TunshapeCommand.Version();

    /** Where the subcommand is: the first argument that is no option nor --netns's value; -1 for none known. */
    static int subcommandIndex(String... args) {
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--netns")) {
                i++;
            } else if (!a.startsWith("-")) {
                return NAMES.contains(a) ? i : -1;
            }
        }
        return -1;
    }

    private static boolean versionOnly(String... args) {
        boolean version = false;
        for (String a : args) {
            if (a.equals("-V") || a.equals("--version")) {
                version = true;
            } else if (a.equals("-h") || a.equals("--help")) {
                return false;
            }
        }
        return version;
    }

    /** The subcommand {@code name} under {@code top}; only its own class is loaded (its model: Specs). */
    private static CommandLine command(TunshapeCommand top, String name) {
        return new CommandLine(switch (name) {
            case "apply" -> ApplyCommand.spec(new ApplyCommand(), top);
            case "show" -> ShowCommand.spec(new ShowCommand(), top);
            case "clear" -> ClearCommand.spec(new ClearCommand(), top);
            case "profiles" -> ProfilesCommand.spec(new ProfilesCommand(), top);
            case "status" -> StatusCommand.spec(new StatusCommand(), top);
            case "top" -> TopCommand.spec(new TopCommand(), top);
            case "pump" -> PumpCommand.spec(new PumpCommand(), top);
            case "demo" -> DemoCommand.spec(new DemoCommand(), top);
            case "daemon" -> DaemonCommand.spec(new DaemonCommand(), top);
            case "completion" -> CompletionCommand.spec(new CompletionCommand());
            case "help" -> Specs.help();
            default -> throw new IllegalArgumentException("no subcommand " + name);
        });
    }
}
