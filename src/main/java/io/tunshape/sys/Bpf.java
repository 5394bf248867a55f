package io.tunshape.sys;

import com.sun.jna.LastErrorException;
import com.sun.jna.Library;
import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.Pointer;

import java.nio.charset.StandardCharsets;

/**
 * bpf(2), for one thing: loading a small classifier program (BPF_PROG_LOAD) that the kernel's
 * verifier checks before it accepts it. The verifier's own log comes back with a refusal, so the
 * user sees why. Loading needs CAP_BPF (or CAP_SYS_ADMIN); tunshape loads only programs it built.
 */
public final class Bpf {
    public static final int PROG_TYPE_SCHED_CLS = 3;
    private static final int BPF_PROG_LOAD = 5;
    /** Room for the verifier's log of a short program, and then some. */
    private static final int LOG_SIZE = 64 * 1024;

    /** syscall(2) with bpf's fixed signature: syscall(SYS_bpf, cmd, attr, size). */
    private interface Syscall extends Library {
        Syscall INSTANCE = Native.load("c", Syscall.class);

        long syscall(long number, int cmd, Pointer attr, int size) throws LastErrorException;
    }

    /** The kernel refused a program: errno, and the verifier's log (empty when it gave none). */
    public static final class RefusedException extends NativeException {
        private static final long serialVersionUID = 1L;
        private final String log;

        public RefusedException(int errno, String log) {
            super("bpf(BPF_PROG_LOAD)", errno);
            this.log = log;
        }

        public String verifierLog() {
            return log;
        }

        /**
         * Whether the kernel refused eBPF itself here rather than this program: no permission (EPERM:
         * no CAP_BPF, kernel lockdown, an LSM; EACCES without a verifier log: an LSM such as SELinux),
         * no bpf(2) (ENOSYS), or no such program type (EINVAL or EOPNOTSUPP without a verifier log).
         * A refusal by the verifier comes with its log, and is a fault in the program.
         */
        public boolean bpfNotAllowed() {
            int e = errno();
            return e == Errno.EPERM || e == Errno.ENOSYS || e == Errno.EOPNOTSUPP
                    || ((e == Errno.EACCES || e == Errno.EINVAL) && log.isEmpty());
        }
    }

    private Bpf() {
    }

    private static long syscallNumber() {
        return switch (System.getProperty("os.arch")) {
            case "amd64", "x86_64" -> 321;
            case "aarch64" -> 280;
            default -> throw new NativeException("bpf (no syscall number for " + System.getProperty("os.arch") + ")",
                    Errno.ENOSYS);
        };
    }

    /**
     * Loads {@code insns} (struct bpf_insn, 8 bytes each, host order) as a program of {@code type}
     * named {@code name} (at most 15 characters) and returns its descriptor. The verifier log is
     * asked for at level 1 only when a first attempt fails, as bpftool does: a log costs the
     * verifier time and is only read on refusal.
     */
    public static Fd load(int type, byte[] insns, String license, String name) {
        try {
            return new Fd(loadOnce(type, insns, license, name, 0));
        } catch (RefusedException first) {
            // once more with the log, for the reason (a refusal again throws with it)
            return new Fd(loadOnce(type, insns, license, name, 1));
        }
    }

    private static int loadOnce(int type, byte[] insns, String license, String name, int logLevel) {
        Memory prog = new Memory(insns.length);
        prog.write(0, insns, 0, insns.length);
        byte[] lic = (license + "\0").getBytes(StandardCharsets.US_ASCII);
        Memory licMem = new Memory(lic.length);
        licMem.write(0, lic, 0, lic.length);
        Memory log = logLevel > 0 ? new Memory(LOG_SIZE) : null;
        if (log != null) {
            log.setByte(0, (byte) 0);
        }
        // union bpf_attr, BPF_PROG_LOAD part: prog_type, insn_cnt, insns, license, log_level,
        // log_size, log_buf, kern_version, prog_flags, prog_name[16]; the rest stays zero
        Memory attr = new Memory(128);
        attr.clear();
        attr.setInt(0, type);
        attr.setInt(4, insns.length / 8);
        attr.setLong(8, Pointer.nativeValue(prog));
        attr.setLong(16, Pointer.nativeValue(licMem));
        attr.setInt(24, logLevel);
        attr.setInt(28, log == null ? 0 : LOG_SIZE);
        attr.setLong(32, log == null ? 0 : Pointer.nativeValue(log));
        byte[] n = name.getBytes(StandardCharsets.US_ASCII);
        attr.write(48, n, 0, Math.min(n.length, 15));
        try {
            return (int) Syscall.INSTANCE.syscall(syscallNumber(), BPF_PROG_LOAD, attr, 128);
        } catch (LastErrorException e) {
            throw new RefusedException(e.getErrorCode(), log == null ? "" : log.getString(0, "US-ASCII").strip());
        } finally {
            // keep the buffers reachable until the kernel is done with them
            java.lang.ref.Reference.reachabilityFence(prog);
            java.lang.ref.Reference.reachabilityFence(licMem);
            java.lang.ref.Reference.reachabilityFence(log);
        }
    }

    /** The descriptor number of an open program, for a netlink attribute (TCA_BPF_FD). */
    public static int number(Fd fd) {
        int n = fd.acquire();
        fd.release();
        return n;
    }
}
