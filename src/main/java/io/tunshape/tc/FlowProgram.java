package io.tunshape.tc;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;

/**
 * The classifier that spreads packets over the flow queues: an eBPF program of type SCHED_CLS, run
 * by cls_bpf in classid mode (its return value is the class). Seven instructions, hand-assembled:
 *
 * <pre>
 *   r6 = r1                         keep the skb
 *   call bpf_set_hash_invalid       forget a hash the sender's socket set (random per connection,
 *   r1 = r6                         and TCP picks a new one on each retransmission timeout)
 *   call bpf_get_hash_recalc        the kernel's flow hash of the addresses, protocol and ports
 *   w0 %= count                     one of the queues
 *   w0 += classid of the first      7474:100 + queue
 *   exit
 * </pre>
 *
 * It reads nothing but what the two helpers give, writes nothing, and cannot loop; the kernel's
 * verifier checks that before it takes the program. The hash is seeded once per boot, so a flow
 * (the same addresses, protocol and ports) stays in one queue, and which queue it is cannot be
 * chosen from outside.
 */
public record FlowProgram(int count, Handle first) {
    public static final String LICENSE = "GPL";
    /** bpf_prog name (at most 15 characters), as bpftool shows it. */
    public static final String PROG_NAME = "tunshape_flows";
    /** cls_bpf filter names start so; the rest says the program's count and first class. */
    public static final String FILTER_PREFIX = "tunshape-flows ";

    private static final int BPF_FUNC_GET_HASH_RECALC = 34;
    private static final int BPF_FUNC_SET_HASH_INVALID = 41;

    /**
     * struct bpf_insn: {@code u8 code; u8 dst_reg:4, src_reg:4; s16 off; s32 imm;} (linux/bpf.h),
     * little-endian bit fields on the machines tunshape runs on.
     */
    public record Insn(int code, int dst, int src, int off, int imm) {
        static final int SIZE = 8;

        void write(ByteBuffer b) {
            b.put((byte) code).put((byte) ((src << 4) | dst)).putShort((short) off).putInt(imm);
        }
    }

    // opcodes: class | op | source (linux/bpf_common.h, linux/bpf.h)
    private static final int MOV64_X = 0x07 | 0xb0 | 0x08;
    private static final int CALL = 0x05 | 0x80;
    private static final int MOD32_K = 0x04 | 0x90;
    private static final int ADD32_K = 0x04;
    private static final int EXIT = 0x05 | 0x90;

    public List<Insn> instructions() {
        return List.of(
                new Insn(MOV64_X, 6, 1, 0, 0),
                new Insn(CALL, 0, 0, 0, BPF_FUNC_SET_HASH_INVALID),
                new Insn(MOV64_X, 1, 6, 0, 0),
                new Insn(CALL, 0, 0, 0, BPF_FUNC_GET_HASH_RECALC),
                new Insn(MOD32_K, 0, 0, 0, count),
                new Insn(ADD32_K, 0, 0, 0, (int) first.value()),
                new Insn(EXIT, 0, 0, 0, 0));
    }

    public byte[] bytes() {
        List<Insn> insns = instructions();
        ByteBuffer b = ByteBuffer.allocate(insns.size() * Insn.SIZE).order(ByteOrder.LITTLE_ENDIAN);
        for (Insn i : insns) {
            i.write(b);
        }
        return b.array();
    }

    /** The cls_bpf filter's name (TCA_BPF_NAME): how tunshape recognises its own filter in a dump. */
    public String filterName() {
        return FILTER_PREFIX + count + " " + first;
    }

    /**
     * The program a filter name stands for, or null for a name tunshape did not give. A name alone
     * proves nothing: {@link #matchesTag} checks the program the kernel holds is this one.
     */
    public static FlowProgram fromFilterName(String name) {
        if (name == null || !name.startsWith(FILTER_PREFIX)) {
            return null;
        }
        String[] w = name.substring(FILTER_PREFIX.length()).split(" ");
        try {
            return w.length == 2 ? new FlowProgram(Integer.parseInt(w[0]), Handle.parse(w[1])) : null;
        } catch (RuntimeException e) {
            return null;
        }
    }

    /**
     * Whether the kernel's tag of a program (TCA_BPF_TAG, 8 bytes in hex) is this program's. The
     * kernel computes it over the instructions: SHA-1 before Linux 6.18, SHA-256 from then on; both
     * are accepted, a program with any other instruction matches neither.
     */
    public boolean matchesTag(String tag) {
        return tag != null && (tag.equals(tag("SHA-256")) || tag.equals(tag("SHA-1")));
    }

    private String tag(String algorithm) {
        try {
            byte[] d = MessageDigest.getInstance(algorithm).digest(bytes());
            return HexFormat.of().formatHex(d, 0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
