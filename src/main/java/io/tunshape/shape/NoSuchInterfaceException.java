package io.tunshape.shape;

/** A named interface, or a glob that matches no tun/tap device, in the namespace. */
public class NoSuchInterfaceException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public NoSuchInterfaceException(String message) {
        super(message);
    }
}
