package io.tunshape.tc;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The kernel's psched_ratecfg mirrored: predicted tbf readback against what 6.18 dumped (facts §3). */
class KernelRateTest {
    private final TcCodec codec = new TcCodec(Psched.DEFAULT);

    @Test
    void exampleA_readsBackBuffer20833333() {
        TbfKernel k = codec.predict(new TbfSpec(Rate.ofBytes(1200), Size.of(1600), Size.of(4000), 0, 0));
        assertEquals(new TbfKernel(1200, 4000, 20833333, 0, 0), k);
    }

    @Test
    void exampleB_readsBackBuffer81920() {
        assertEquals(81920, codec.predict(new TbfSpec(Rate.ofBytes(12_500_000), Size.of(65536), Size.of(1 << 20), 0, 0))
                .bufferTicks());
    }

    @Test
    void exampleC_readsBackBuffer3276() {
        assertEquals(3276, codec.predict(new TbfSpec(Rate.ofBytes(5_000_000_000L), Size.of(1 << 20), Size.of(51048576),
                0, 0)).bufferTicks());
    }

    @Test
    void overheadCountsInTheBucket() {
        // facts §3 D without ATM: 10240 + 14 bytes at 125000 B/s = 82032 us = 1281750 ticks
        assertEquals(1281750, codec.predict(new TbfSpec(Rate.ofBytes(125_000), Size.of(10240), Size.of(20000), 14, 64))
                .bufferTicks());
    }

    @Test
    void burstIsRecoveredFromTicks() {
        for (long rate : new long[] {1, 37, 1200, 125_000, 12_500_000, 5_000_000_000L}) {
            for (long burst : new long[] {1500, 1514, 65536, 1 << 20}) {
                TbfSpec s = new TbfSpec(Rate.ofBytes(rate), Size.of(burst), Size.of(burst * 2), 0, 0);
                if (!Psched.DEFAULT.fits(rate, burst)) {
                    continue;
                }
                TbfKernel k = codec.predict(s);
                long back = TcCodec.tbfBurstBytes(k);
                // the dump keeps 64 ns of resolution: at most one tick's worth of bytes is lost
                long slack = Math.max(0, (long) Math.ceil(rate * 64e-9));
                assertEquals(burst, back, slack, "rate " + rate + " burst " + burst);
                assertEquals(k, codec.predict(new TbfSpec(s.rate(), Size.of(back), s.limit(), 0, 0)));
            }
        }
    }
}
