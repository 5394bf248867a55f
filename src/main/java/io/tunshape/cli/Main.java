package io.tunshape.cli;

import java.io.PrintWriter;

public final class Main {
    private Main() {
    }

    public static void main(String[] args) {
        PrintWriter out = new PrintWriter(System.out, false);
        PrintWriter err = new PrintWriter(System.err, true);
        System.exit(Cli.run(out, err, args));
    }
}
