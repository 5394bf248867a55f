package io.tunshape.kernel;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tunshape.testing.DaemonSockets;
import io.tunshape.testing.KernelNs;
import io.tunshape.testing.PumpProcess;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The daemon's metrics as a user would watch them: `promtool check metrics` finds nothing to say
 * about them; a real Prometheus server from Debian's package (on loopback, its own port and data
 * directory, stopped afterwards) scrapes a running daemon, and a rate comes back through its HTTP
 * API equal to the daemon's own; every query of examples/grafana/tunshape.json names only metrics
 * the daemon exports, and Prometheus evaluates each of them.
 */
class PrometheusKernelTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

    @Test
    void prometheusScrapesTheDaemonAndTheDashboardAsksOnlyForWhatItExports(@TempDir Path dir) throws Exception {
        KernelNs.requireRoot();
        requireTool("/usr/bin/prometheus");
        requireTool("/usr/bin/promtool");
        try (KernelNs ns = KernelNs.create()) {
            ns.tap("tap0");
            int metricsPort = freePort();
            int promPort = freePort();
            Files.writeString(dir.resolve("adaptive-prom.yaml"), "name: adaptive-prom\ndescription: the metrics test's link\n"
                    + "source: test\nlink: {rate: 1mbit}\nadaptive: {min_rate: 250kbit, max_rate: 4mbit}\n");
            Files.writeString(dir.resolve("tunshape.yaml"), "report_socket: " + dir.resolve("report.sock") + "\n"
                    + "control_socket: " + dir.resolve("control.sock") + "\nmetrics: 127.0.0.1:" + metricsPort + "\n"
                    + "interfaces:\n  - match: \"tap0\"\n    netns: \"" + ns.name() + "\"\n    profile: "
                    + dir.resolve("adaptive-prom.yaml") + "\n    adaptive: true\n");
            Process prometheus = null;
            try (PumpProcess daemon = new PumpProcess("daemon", "--config", dir.resolve("tunshape.yaml").toString())) {
                assertTrue(daemon.await("running with", 20_000), daemon.lines().toString());
                String metricsUrl = "http://127.0.0.1:" + metricsPort + "/metrics";
                // a report makes a rate change, so the per-device latency histogram has a count
                String exported = null;
                for (int i = 0; i < 50; i++) {
                    DaemonSockets.report(dir.resolve("report.sock"), "{\"v\": 1, \"dev\": \"tap0\", \"netns\": \"" + ns.name() + "\", \"interval_ms\": 1000, "
                            + "\"tx_bytes\": 187500, \"busy_ms\": 1000, \"capacity_bps\": 1500000}");
                    Thread.sleep(100);
                    exported = get(metricsUrl);
                    if (exported.contains("tunshape_device_change_latency_seconds_count{dev=\"tap0\",netns=\""
                            + ns.name() + "\"} 1")) {
                        break;
                    }
                }
                assertTrue(exported.contains("tunshape_capacity_bytes_per_second{dev=\"tap0\",netns=\"" + ns.name()
                        + "\"} 187500"), "capacity 1.5 Mbit/s is 187500 bytes/s:\n" + exported);

                KernelNs.Exec lint = promtool(dir, exported);
                assertEquals(0, lint.status(), "promtool check metrics:\n" + lint.output() + "\n" + exported);
                assertEquals("", lint.output().strip(), "promtool check metrics has remarks:\n" + exported);

                Files.writeString(dir.resolve("prometheus.yml"), "global:\n  scrape_interval: 1s\n"
                        + "  evaluation_interval: 1s\nscrape_configs:\n  - job_name: tunshape\n    static_configs:\n"
                        + "      - targets: ['127.0.0.1:" + metricsPort + "']\n");
                prometheus = new ProcessBuilder("/usr/bin/prometheus",
                        "--config.file=" + dir.resolve("prometheus.yml"),
                        "--storage.tsdb.path=" + dir.resolve("data"),
                        "--web.listen-address=127.0.0.1:" + promPort, "--log.level=warn")
                        .redirectErrorStream(true).redirectOutput(dir.resolve("prometheus.log").toFile()).start();
                String api = "http://127.0.0.1:" + promPort + "/api/v1/query?query=";
                String selector = "{dev=\"tap0\",netns=\"" + ns.name() + "\"}";
                JsonNode rate = awaitResult(api, "tunshape_rate_bytes_per_second" + selector, dir);
                JsonNode status = JSON.readTree(DaemonSockets.status(dir.resolve("control.sock")));
                long rateBps = -1;
                for (JsonNode i : status.get("interfaces")) {
                    if (i.get("dev").asText().equals("tap0")) {
                        rateBps = i.get("rate_bps").asLong();
                    }
                }
                assertTrue(rateBps > 0, status.toString());
                assertEquals(rateBps / 8.0, rate.get(0).get("value").get(1).asDouble(), 0.5,
                        "the rate through Prometheus is the daemon's: " + rate + " / " + status);
                JsonNode count = awaitResult(api, "tunshape_device_change_latency_seconds_count" + selector, dir);
                assertTrue(count.get(0).get("value").get(1).asDouble() >= 1, count.toString());

                // the dashboard: names only exported metrics, and Prometheus evaluates every query
                Set<String> names = exportedNames(exported);
                JsonNode dash = JSON.readTree(Files.readString(Path.of("examples/grafana/tunshape.json")));
                List<String> queries = new ArrayList<>();
                collect(dash, queries);
                assertTrue(queries.size() >= 10, "the dashboard's queries: " + queries);
                Set<String> panelsCover = new TreeSet<>();
                Pattern metric = Pattern.compile("\\btunshape_[a-z_]+");
                for (String q : queries) {
                    Matcher m = metric.matcher(q);
                    boolean any = false;
                    while (m.find()) {
                        any = true;
                        assertTrue(names.contains(m.group()), "the dashboard asks for " + m.group()
                                + ", which the daemon does not export; it exports " + names);
                        panelsCover.add(m.group());
                    }
                    assertTrue(any, "a dashboard query that names no tunshape metric: " + q);
                    if (q.startsWith("label_values(")) {
                        continue; // Grafana's own function, not PromQL
                    }
                    String promql = q.replace("$__rate_interval", "1m").replace("$netns", ".*").replace("$dev", ".*");
                    JsonNode r = JSON.readTree(get(api + URLEncoder.encode(promql, StandardCharsets.UTF_8)));
                    assertEquals("success", r.get("status").asText(), promql + " -> " + r);
                }
                for (String needed : List.of("tunshape_rate_bytes_per_second", "tunshape_capacity_bytes_per_second",
                        "tunshape_qdisc_backlog_bytes", "tunshape_qdisc_drops_total", "tunshape_tun_tx_dropped_total",
                        "tunshape_device_change_latency_seconds_bucket")) {
                    assertTrue(panelsCover.contains(needed), "no panel shows " + needed);
                }
                daemon.stop();
            } finally {
                if (prometheus != null) {
                    prometheus.destroy();
                    if (!prometheus.waitFor(10, TimeUnit.SECONDS)) {
                        prometheus.destroyForcibly();
                        prometheus.waitFor(5, TimeUnit.SECONDS);
                    }
                }
            }
        }
    }

    /** The metric names of a scrape's samples (a histogram's _bucket, _sum and _count as they appear). */
    static Set<String> exportedNames(String text) {
        Set<String> out = new TreeSet<>();
        for (String l : text.lines().toList()) {
            if (!l.isBlank() && !l.startsWith("#")) {
                out.add(l.split("[{ ]", 2)[0]);
            }
        }
        return out;
    }

    /** Every "expr" of the panels' targets and every templating "query" (a string, or an object's "query"). */
    private static void collect(JsonNode n, List<String> out) {
        if (n.isObject()) {
            n.fields().forEachRemaining(e -> {
                if (e.getKey().equals("expr") && e.getValue().isTextual()) {
                    out.add(e.getValue().asText());
                } else if (e.getKey().equals("query") && e.getValue().isTextual()
                        && e.getValue().asText().contains("tunshape_")) {
                    out.add(e.getValue().asText());
                } else {
                    collect(e.getValue(), out);
                }
            });
        } else if (n.isArray()) {
            n.forEach(c -> collect(c, out));
        }
    }

    private JsonNode awaitResult(String api, String promql, Path dir) throws Exception {
        String url = api + URLEncoder.encode(promql, StandardCharsets.UTF_8);
        String last = "";
        for (int i = 0; i < 200; i++) {
            try {
                last = get(url);
                JsonNode r = JSON.readTree(last).path("data").path("result");
                if (r.isArray() && r.size() > 0) {
                    return r;
                }
            } catch (IOException e) {
                last = e.toString(); // not listening yet
            }
            Thread.sleep(100);
        }
        fail("Prometheus never returned " + promql + "; last answer: " + last + "\nits log:\n"
                + Files.readString(dir.resolve("prometheus.log")));
        return null;
    }

    private String get(String url) throws IOException, InterruptedException {
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(5))
                .build(), HttpResponse.BodyHandlers.ofString());
        return r.body();
    }

    private static KernelNs.Exec promtool(Path dir, String metrics) throws IOException {
        Path f = dir.resolve("scrape.txt");
        Files.writeString(f, metrics);
        return KernelNs.exec("sh", "-c", "/usr/bin/promtool check metrics < '" + f + "' 2>&1");
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private static void requireTool(String path) {
        boolean present = Files.isExecutable(Path.of(path));
        if ("true".equals(System.getenv("CI"))) {
            assertTrue(present, path + " is missing (apt-get install prometheus); under CI=true this test must run");
        } else {
            org.junit.jupiter.api.Assumptions.assumeTrue(present, "skipped: needs " + path + " (Debian's prometheus)");
        }
    }
}
