package io.tunshape.shape;

import io.tunshape.link.LinkClient;
import io.tunshape.link.LinkInfo;
import io.tunshape.netlink.Ack;
import io.tunshape.netlink.MessageWriter;
import io.tunshape.profile.Plan;
import io.tunshape.sys.Bpf;
import io.tunshape.sys.Fd;
import io.tunshape.tc.FlowProgram;
import io.tunshape.tc.HtbSpec;
import io.tunshape.tc.QdiscInfo;
import io.tunshape.tc.QdiscSpec;
import io.tunshape.tc.TcClient;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Brings devices of one namespace to a plan, idempotently: compares what the kernel holds with what
 * the plan would make it hold, sends only the difference (changing in place where the kernel can),
 * and on a refusal puts every device it touched back as it was.
 *
 * <p>Its jobs live in rooms of their own: reading state ({@link StateReader}), views for people
 * ({@link Views}), apply steps ({@link ApplySteps}, with the programs of the flow classifier in
 * {@link FlowPrograms}), restore steps ({@link RestoreSteps}), running steps with rollback
 * ({@link StepRunner}) and the daemon's fast rate change ({@link FastRateChange}). tunshape's tree is
 * recognised by its handles, laid out in {@link io.tunshape.tc.TreeLayout}; the flow queues'
 * classifier by its filter's name and its program's tag ({@link FlowProgram}).
 */
public final class Shaper implements AutoCloseable {
    /** Loads a flow program into the kernel, where the verifier checks it; returns its descriptor. */
    public interface ProgramLoader {
        Fd load(FlowProgram p);
    }

    /** The real loader: bpf(BPF_PROG_LOAD) as SCHED_CLS. */
    public static final ProgramLoader KERNEL = p -> Bpf.load(Bpf.PROG_TYPE_SCHED_CLS, p.bytes(), FlowProgram.LICENSE,
            FlowProgram.PROG_NAME);

    /** Links and qdiscs of the namespace, read in two dumps. */
    public record Snapshot(List<LinkInfo> links, Map<Integer, QdiscInfo> roots, Map<Integer, QdiscInfo> defaults,
                           Map<Integer, List<QdiscInfo>> children) {
    }

    /** One request, with words for the plan and for errors. */
    public record Step(String what, MessageWriter message, boolean toleratesMissing) {
        Step(String what, MessageWriter message) {
            this(what, message, false);
        }
    }

    /** One device with its state before and the requests planned for it. */
    public record Target(DeviceState before, List<Step> steps, List<String> warnings) {
    }

    private final TcClient tc;
    private final StateReader reader;
    private final Views views;
    private final FlowPrograms programs;
    private final ApplySteps apply;
    private final RestoreSteps restore;
    private final StepRunner runner;

    public Shaper(TcClient tc, LinkClient links) {
        this(tc, links, KERNEL);
    }

    public Shaper(TcClient tc, LinkClient links, ProgramLoader loader) {
        this.tc = tc;
        this.reader = new StateReader(tc, links);
        this.views = new Views(tc.codec());
        this.programs = new FlowPrograms(loader);
        this.apply = new ApplySteps(tc.codec(), programs);
        this.restore = new RestoreSteps(tc.codec(), programs);
        this.runner = new StepRunner(tc, reader::reread, restore::steps);
    }

    /** Closes this shaper's descriptors of loaded programs (filters in the kernel keep theirs). */
    @Override
    public void close() {
        programs.close();
    }

    public Snapshot snapshot() {
        return reader.snapshot();
    }

    public DeviceState state(Snapshot s, LinkInfo link) {
        return reader.state(s, link);
    }

    /** The state of one device now, read afresh. */
    public DeviceState reread(LinkInfo link) {
        return reader.reread(link);
    }

    public QdiscView view(DeviceState d) {
        return views.view(d);
    }

    public static QdiscView view(QdiscSpec spec) {
        return Views.view(spec);
    }

    /** The requests that take the device from {@code d} to the plan; empty when it is there already. */
    public List<Step> applySteps(DeviceState d, Plan plan) {
        return apply.steps(d, plan);
    }

    /** Requests that remove tunshape's root qdisc; none when the device has the default or a foreign one. */
    public List<Step> clearSteps(DeviceState d) {
        return ApplySteps.clear(d);
    }

    /** Requests that take a device from {@code now} back to {@code before}. */
    public List<Step> restoreSteps(DeviceState before, DeviceState now) {
        return restore.steps(before, now);
    }

    /** See {@link FlowPrograms#refusal}. */
    public Bpf.RefusedException bpfRefusal(FlowProgram p) {
        return programs.refusal(p);
    }

    /**
     * Sends every target's requests in order. On a refusal, puts back every device already changed
     * (the failing one included) and throws; warnings the kernel attached to its acks are returned
     * per target.
     */
    public List<List<String>> execute(List<Target> targets) {
        return runner.execute(targets);
    }

    /** One step; see {@link StepRunner#send}. */
    public Ack send(Step s) {
        return runner.send(s);
    }

    /** The daemon's fast path for a new adaptive rate: see {@link FastRateChange}. */
    public void changeHtbInPlace(int ifindex, HtbSpec h, boolean emptyLeaves) {
        FastRateChange.changeHtbInPlace(tc, ifindex, h, emptyLeaves);
    }

    /** The words of some steps, for messages. */
    public static List<String> whats(List<Step> steps) {
        List<String> out = new ArrayList<>(steps.size());
        for (Step s : steps) {
            out.add(s.what());
        }
        return out;
    }
}
