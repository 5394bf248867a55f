package io.tunshape.daemon;

/**
 * Makes a tap device in the calling thread's network namespace, gone when closed: the warm-up's
 * device. The daemon does not open tun devices itself (that is the tun package's), so whoever
 * starts it passes one of these in.
 */
@FunctionalInterface
public interface TapMaker {
    AutoCloseable tap(String name) throws Exception;
}
