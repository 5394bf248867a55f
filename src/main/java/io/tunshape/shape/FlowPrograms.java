package io.tunshape.shape;

import io.tunshape.sys.Bpf;
import io.tunshape.sys.Fd;
import io.tunshape.tc.BpfFilter;
import io.tunshape.tc.FlowProgram;
import io.tunshape.tc.Handle;
import io.tunshape.tc.TcClient;
import io.tunshape.tc.TcCodec;

import java.util.HashMap;
import java.util.Map;

/**
 * The flow programs loaded for filters a shaper adds (a filter holds its own reference once added),
 * and whether the kernel refuses eBPF here, asked once.
 */
final class FlowPrograms implements AutoCloseable {
    private final Shaper.ProgramLoader loader;
    private final Map<FlowProgram, Fd> programs = new HashMap<>();
    /** The refusal of eBPF met, kept: it is not asked again for every device and pass. */
    private Bpf.RefusedException refusal;

    FlowPrograms(Shaper.ProgramLoader loader) {
        this.loader = loader;
    }

    /**
     * Whether eBPF is refused here: loads {@code p} (kept for the filter that will run it) and returns
     * null when the kernel takes it, or the refusal when it refuses eBPF itself
     * ({@link Bpf.RefusedException#bpfNotAllowed}). A refusal by the verifier is thrown: tunshape's
     * program is at fault, and the user sees the verifier's log.
     */
    Bpf.RefusedException refusal(FlowProgram p) {
        if (refusal != null) {
            return refusal;
        }
        try {
            programs.computeIfAbsent(p, loader::load);
            return null;
        } catch (Bpf.RefusedException e) {
            if (!e.bpfNotAllowed()) {
                throw e;
            }
            refusal = e;
            return e;
        }
    }

    /**
     * The request that adds the flow classifier: its program is loaded here (the kernel's verifier
     * checks it now, also for --dry-run; nothing is attached until the request is sent).
     */
    Shaper.Step filterStep(int ix, Handle parent, FlowProgram p, int prio) {
        Fd fd = programs.computeIfAbsent(p, loader::load);
        return new Shaper.Step("add the flow classifier (cls_bpf prio " + prio + ", program " + FlowProgram.PROG_NAME
                + ": flow hash modulo " + p.count() + " to classes " + p.first() + "-"
                + Integer.toHexString(p.first().minor() + p.count() - 1) + ")",
                TcCodec.bpf(TcClient.ADD, ix, parent, prio, BpfFilter.ETH_P_ALL, Bpf.number(fd), p.filterName()));
    }

    /** Closes the descriptors of loaded programs (filters in the kernel keep theirs). */
    @Override
    public void close() {
        for (Fd fd : programs.values()) {
            fd.close();
        }
        programs.clear();
    }
}
