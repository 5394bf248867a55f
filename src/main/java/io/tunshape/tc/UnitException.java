package io.tunshape.tc;

/** A value that cannot be read as the unit it should have; the message says what is accepted. */
public class UnitException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    public UnitException(String message) {
        super(message);
    }
}
