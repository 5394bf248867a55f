package io.tunshape.cli;

import java.io.PrintWriter;
import java.io.StringWriter;

/** What the command line says for an exception, and its exit status: for tests outside this package. */
public final class CliErrors {
    private CliErrors() {
    }

    /** "STATUS: message" as the user sees it on stderr. */
    public static String describe(Exception e) {
        StringWriter err = new StringWriter();
        PrintWriter ew = new PrintWriter(err);
        int code = Cli.handle(e, Cli.commandLine(new PrintWriter(new StringWriter()), ew), null);
        ew.flush();
        return code + ": " + err;
    }
}
