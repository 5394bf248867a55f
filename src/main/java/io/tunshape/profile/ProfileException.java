package io.tunshape.profile;

/** A profile (or config) that cannot be used: where (file:line:column), what is wrong, and what is accepted. */
public class ProfileException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;
    private final String file;
    private final int line;
    private final int column;
    private final String problem;

    public ProfileException(String file, int line, int column, String problem) {
        super(file == null || file.isEmpty() ? problem
                : file + (line > 0 ? ":" + line + ":" + column : "") + ": " + problem);
        this.file = file;
        this.line = line;
        this.column = column;
        this.problem = problem;
    }

    public String file() {
        return file;
    }

    public int line() {
        return line;
    }

    public int column() {
        return column;
    }

    public String problem() {
        return problem;
    }
}
