package io.tunshape.shape;

import io.tunshape.link.LinkClient;
import io.tunshape.link.LinkInfo;
import io.tunshape.netlink.Ack;
import io.tunshape.netlink.MessageWriter;
import io.tunshape.netlink.NetlinkException;
import io.tunshape.tc.Psched;
import io.tunshape.tc.TcClient;
import io.tunshape.tc.TcCodec;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.when;

/**
 * A rollback that itself fails cannot be provoked in a real kernel on cue; a mocked client stands
 * in. The user must be told which interface was left changed, and why.
 */
class RollbackFailureTest {
    @Test
    void aFailedPutBackIsReportedPerInterface() {
        TcClient tc = mock(TcClient.class);
        LinkClient links = mock(LinkClient.class);
        when(tc.codec()).thenReturn(new TcCodec(Psched.DEFAULT));
        LinkInfo t0 = new LinkInfo(2, "t0", "tun", 65534, 0, "up", 1500, 500, 0, 0, 0);
        LinkInfo t1 = new LinkInfo(3, "t1", "tun", 65534, 0, "up", 1500, 500, 0, 0, 0);
        when(links.links()).thenReturn(List.of(t0, t1));
        when(tc.qdiscs()).thenReturn(List.of());
        // t0's change is accepted; t1's is refused; every put-back is refused too
        when(tc.send(any(MessageWriter.class)))
                .thenReturn(Ack.EMPTY)
                .thenThrow(new NetlinkException(22, "Invalid qdisc name: must match existing qdisc", -1))
                .thenThrow(new NetlinkException(16, "device busy", -1));
        Shaper shaper = new Shaper(tc, links);
        Shaper.Step step0 = new Shaper.Step("install tbf", new MessageWriter(36, 5), false);
        Shaper.Step step1 = new Shaper.Step("install tbf", new MessageWriter(36, 5), false);
        // before: t0 had a root at 7473: (so putting it back is a request, which fails)
        io.tunshape.tc.QdiscInfo old = new io.tunshape.tc.QdiscInfo(2, io.tunshape.tc.Handle.of(5, 0),
                io.tunshape.tc.Handle.ROOT, "pfifo", new byte[4], io.tunshape.tc.Stats.ZERO);
        List<Shaper.Target> targets = List.of(
                new Shaper.Target(DeviceState.bare(t0, old), List.of(step0), List.of()),
                new Shaper.Target(DeviceState.bare(t1, null), List.of(step1), List.of()));
        ShapeException e = assertThrows(ShapeException.class, () -> shaper.execute(targets));
        assertEquals("t1", e.iface());
        assertTrue(e.changedAny());
        assertTrue(e.getMessage().contains("Invalid qdisc name"), e.getMessage());
        assertTrue(e.rollbackFailures().stream().anyMatch(f -> f.startsWith("t0: put back root pfifo 5:")
                && f.contains("device busy")), e.rollbackFailures().toString());
    }
}
