package io.tunshape.profile;

/** Input that cannot be planned: names the field, what is wrong, and what is accepted. */
public class PlanException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;
    private final String field;

    public PlanException(String field, String message) {
        super(field + ": " + message);
        this.field = field;
    }

    public String field() {
        return field;
    }
}
