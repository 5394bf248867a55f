package io.tunshape.netlink;

import io.tunshape.sys.Errno;
import io.tunshape.sys.Fd;
import io.tunshape.sys.NativeException;
import io.tunshape.sys.Sys;

import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;

/**
 * Runs code inside a network namespace. setns(2) changes only the calling thread, so the work runs
 * on a fresh platform thread that enters the namespace first and is thrown away afterwards; every
 * socket the work opens belongs to that namespace.
 */
public final class Netns {
    private Netns() {
    }

    /** A namespace name under /var/run/netns, or a path such as /proc/PID/ns/net. */
    public static String path(String nameOrPath) {
        return nameOrPath.contains("/") ? nameOrPath : "/var/run/netns/" + nameOrPath;
    }

    /** Runs {@code work} in the namespace, or on the calling thread when {@code nameOrPath} is null. */
    public static <T> T run(String nameOrPath, Callable<T> work) throws Exception {
        if (nameOrPath == null) {
            return work.call();
        }
        if (nameOrPath.isEmpty() || (!nameOrPath.contains("/") && (nameOrPath.equals(".") || nameOrPath.equals(".."))))
        {
            throw new NoSuchNamespaceException(nameOrPath, "not a namespace name");
        }
        String p = path(nameOrPath);
        Fd nsFd;
        try {
            nsFd = Sys.open(p, Sys.O_RDONLY | Sys.O_CLOEXEC);
        } catch (NativeException e) {
            if (e.errno() == Errno.ENOENT || e.errno() == Errno.ENODEV) {
                throw new NoSuchNamespaceException(nameOrPath, "no such network namespace (" + p + ")");
            }
            throw e;
        }
        FutureTask<T> task = new FutureTask<>(() -> {
            try {
                Sys.setns(nsFd, Sys.CLONE_NEWNET);
            } catch (NativeException e) {
                if (e.errno() == Errno.EINVAL) {
                    throw new NoSuchNamespaceException(nameOrPath, p + " is not a network namespace");
                }
                throw e;
            } finally {
                nsFd.close();
            }
            return work.call();
        });
        return onThread("netns-" + nameOrPath, task);
    }

    /**
     * Runs {@code work} in a new network namespace of its own, on a fresh thread named {@code name}
     * (unshare): the namespace goes with that thread and the last socket the work opened there.
     */
    public static <T> T runPrivate(String name, Callable<T> work) throws Exception {
        return onThread(name, new FutureTask<>(() -> {
            Sys.unshare(Sys.CLONE_NEWNET);
            return work.call();
        }));
    }

    /** Runs {@code task} on a fresh daemon thread and waits for it: its result, or what it threw. */
    private static <T> T onThread(String name, FutureTask<T> task) throws Exception {
        Thread t = new Thread(task, name);
        t.setDaemon(true);
        t.start();
        try {
            return task.get();
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof Exception ex) {
                throw ex;
            }
            if (c instanceof Error err) {
                throw err;
            }
            throw e;
        }
    }

    /** The namespace does not exist or the path is not one. */
    public static final class NoSuchNamespaceException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        public NoSuchNamespaceException(String name, String why) {
            super("network namespace '" + name + "': " + why);
        }
    }
}
