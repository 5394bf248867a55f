package io.tunshape.testing;

import io.tunshape.cli.Cli;

import java.io.PrintWriter;
import java.io.StringWriter;

/** Runs the real command line in-process with string writers. */
public record CliRun(int status, String out, String err) {
    public static CliRun of(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int rc = Cli.run(new PrintWriter(out), new PrintWriter(err), args);
        return new CliRun(rc, out.toString(), err.toString());
    }

    @Override
    public String toString() {
        return "exit " + status + "\nstdout:\n" + out + "\nstderr:\n" + err;
    }
}
