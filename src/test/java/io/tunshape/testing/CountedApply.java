package io.tunshape.testing;

import io.tunshape.netlink.Netns;
import io.tunshape.profile.Planner;
import io.tunshape.profile.ShapingRequest;
import io.tunshape.shape.Result;
import io.tunshape.shape.Session;
import io.tunshape.tc.Psched;
import io.tunshape.tc.TcCodec;

import java.util.List;

/** An apply through a fresh session inside a test's namespace, with how many requests it sent (idempotency tests). */
public record CountedApply(List<Result> results, long requestsSent) {
    public static CountedApply run(KernelNs ns, String dev, ShapingRequest req, Planner planner) throws Exception {
        return Netns.run(ns.name(), () -> {
            try (Session s = new Session(ns.name(), new TcCodec(Psched.system()))) {
                List<Result> out = s.apply(List.of(dev), req, planner, false);
                return new CountedApply(out, s.requestsSent());
            }
        });
    }
}
