package dev.avatartrain.hub;

import static org.junit.jupiter.api.Assertions.*;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.storage.FileModesTest;

/**
 * The hub client when things go wrong, against the loopback {@link HubServer}: outages and time-outs answered from the
 * cache as huggingface_hub answers them, downloads cut short or stalled never cached, a proxy from the environment,
 * and huggingface_hub's lock shared with a real Python process.
 */
class HubResilienceTest {
    private static final String COMMIT = "0123456789abcdef0123456789abcdef01234567";
    private static final String FILE = "owner/model:unet/diffusion_pytorch_model.safetensors";

    @TempDir
    Path home;

    private HubEnv env(String endpoint, String... more) {
        Map<String, String> vars = new HashMap<>(Map.of("HF_HOME", home.toString(), "HF_ENDPOINT", endpoint));
        for (int i = 0; i < more.length; i += 2) vars.put(more[i], more[i + 1]);
        return HubEnv.from(vars, home.toString());
    }

    private static byte[] weights() {
        return "0123456789 weights ".repeat(500).getBytes(StandardCharsets.UTF_8);
    }

    private static HubServer hub() throws Exception {
        HubServer s = new HubServer("127.0.0.1");
        s.hubHeaders = true;
        s.commit = COMMIT;
        s.put("owner/model", "main", "unet/diffusion_pytorch_model.safetensors", weights());
        return s;
    }

    private Path blobs() {
        return home.resolve("hub/models--owner--model/blobs");
    }

    private List<String> blobNames() throws Exception {
        if (!Files.isDirectory(blobs())) return List.of();
        try (Stream<Path> s = Files.list(blobs())) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    private static long gets(HubServer s) {
        return s.requests.stream().filter(r -> r.method().equals("GET")).count();
    }

    @Test
    void serverErrorsAuthErrorsAndTimeOutsAreAnsweredFromTheCacheButAMissingEntryIsNot() throws Exception {
        try (HubServer server = hub()) {
            Path cached = HubFiles.resolveWeightsFile(FILE, List.of(), null, env(server.url()));
            assertArrayEquals(weights(), Files.readAllBytes(cached));
            FileModesTest.assertUmaskModes(home.resolve("hub"));

            for (int status : new int[] {503, 500, 401, 403}) {
                server.failWith = status;
                assertEquals(cached, HubFiles.resolveWeightsFile(FILE, List.of(), null, env(server.url())), "HTTP " + status);
            }
            server.failWith = 0;
            server.delayMillis = 3000;
            long t0 = System.nanoTime();
            assertEquals(cached, HubFiles.resolveWeightsFile(FILE, List.of(), null, env(server.url(), "HF_HUB_ETAG_TIMEOUT", "0.5")));
            assertTrue(System.nanoTime() - t0 < 2_500_000_000L, "answered after the 0.5 s time-out, not the server's 3 s");
            server.delayMillis = 0;

            server.failWith = 503;
            BadInputException e = assertThrows(BadInputException.class,
                    () -> HubFiles.resolveWeightsFile("owner/model:other.safetensors", List.of(), null, env(server.url())));
            for (String part : List.of("owner/model", "revision main", "other.safetensors", server.url(), "HTTP 503", "not in the cache")) {
                assertTrue(e.getMessage().contains(part), part + " in: " + e.getMessage());
            }
            server.failWith = 0;

            // the hub says the file is gone: huggingface_hub raises rather than serving the cache
            server.files.clear();
            HubFileNotFoundException gone = assertThrows(HubFileNotFoundException.class, () -> HubFiles.resolveWeightsFile(FILE, List.of(), null, env(server.url())));
            assertTrue(gone.getMessage().contains("EntryNotFound"), gone.getMessage());
        }
    }

    @Test
    void aDownloadCutShortIsNotCachedAndIsFetchedAgainOnceTheServerIsFixed() throws Exception {
        try (HubServer server = hub()) {
            server.cutTo = 100;
            BadInputException e = assertThrows(BadInputException.class, () -> HubFiles.resolveWeightsFile(FILE, List.of(), null, env(server.url())));
            assertTrue(e.getMessage().contains("ended after 100 of " + weights().length + " bytes") && e.getMessage().contains(server.url()),
                    e.getMessage());
            assertEquals(List.of(), blobNames(), "nothing cached, no temporary file left");
            assertFalse(Files.exists(home.resolve("hub/models--owner--model/snapshots/" + COMMIT)));

            server.cutTo = -1;
            assertArrayEquals(weights(), Files.readAllBytes(HubFiles.resolveWeightsFile(FILE, List.of(), null, env(server.url()))));
        }
    }

    @Test
    void aShortFileFromAPlainMirrorIsFetchedAgainWhenTheServerAnnouncesAnotherSize() throws Exception {
        byte[] full = weights();
        try (HubServer mirror = new HubServer("127.0.0.1")) {
            mirror.put("owner/model", "main", "unet/diffusion_pytorch_model.safetensors", java.util.Arrays.copyOf(full, 100));
            Path p = HubFiles.resolveWeightsFile(FILE, List.of(), null, env(mirror.url()));
            assertEquals(100, Files.size(p), "a plain mirror gives nothing to check a consistent short file against");

            mirror.put("owner/model", "main", "unet/diffusion_pytorch_model.safetensors", full);
            long before = gets(mirror);
            assertArrayEquals(full, Files.readAllBytes(HubFiles.resolveWeightsFile(FILE, List.of(), null, env(mirror.url()))));
            assertEquals(before + 1, gets(mirror), "the HEAD's size disagreed with the cached copy: fetched again");
            long again = gets(mirror);
            HubFiles.resolveWeightsFile(FILE, List.of(), null, env(mirror.url()));
            assertEquals(again, gets(mirror), "agreeing now: not fetched");
        }
    }

    @Test
    void aStalledDownloadTimesOutAndIsNotCached() throws Exception {
        try (HubServer server = hub()) {
            server.stallAfter = 10;
            long t0 = System.nanoTime();
            BadInputException e = assertThrows(BadInputException.class,
                    () -> HubFiles.resolveWeightsFile(FILE, List.of(), null, env(server.url(), "HF_HUB_DOWNLOAD_TIMEOUT", "1")));
            assertTrue(System.nanoTime() - t0 < 10_000_000_000L);
            assertTrue(e.getMessage().contains("HF_HUB_DOWNLOAD_TIMEOUT"), e.getMessage());
            assertEquals(List.of(), blobNames());
            assertFalse(Thread.currentThread().isInterrupted(), "the watchdog's interrupt does not leak to the caller");
        }
    }

    @Test
    void requestsGoThroughTheProxyOfTheEnvironmentExceptForNoProxyHosts() throws Exception {
        try (HubServer server = hub(); LoopbackProxy proxy = new LoopbackProxy()) {
            int port = URI.create(server.url()).getPort();
            // hub.invalid does not resolve: only the proxy can reach it
            String endpoint = "http://hub.invalid:" + port;
            Path p = HubFiles.resolveWeightsFile(FILE, List.of(), null, env(endpoint, "HTTP_PROXY", proxy.url()));
            assertArrayEquals(weights(), Files.readAllBytes(p));
            assertTrue(proxy.requested.contains("HEAD " + endpoint + "/owner/model/resolve/main/unet/diffusion_pytorch_model.safetensors")
                    && proxy.requested.stream().anyMatch(r -> r.startsWith("GET " + endpoint)), proxy.requested.toString());

            // the proxy is dead, but NO_PROXY names the endpoint's host: a direct connection
            proxy.requested.clear();
            server.put("owner/model", "main", "b.safetensors", weights());
            HubFiles.resolveWeightsFile("owner/model:b.safetensors", List.of(), null,
                    env(server.url(), "http_proxy", "http://127.0.0.1:1", "NO_PROXY", "example.com, 127.0.0.1"));
            assertEquals(List.of(), proxy.requested);
        }
        HubProxies px = HubProxies.from(Map.of("HTTPS_PROXY", "http://upper:1", "https_proxy", "lower:3128",
                "no_proxy", ".corp,10.0.0.0/8,host.example:8443"));
        assertEquals(URI.create("http://lower:3128"), px.proxyFor(URI.create("https://huggingface.co/x")), "lower case wins, http:// assumed");
        assertNull(px.proxyFor(URI.create("http://huggingface.co/x")), "no http proxy set");
        assertNull(px.proxyFor(URI.create("https://hub.corp/x")));
        assertNull(px.proxyFor(URI.create("https://10.1.2.3/x")));
        assertNull(px.proxyFor(URI.create("https://host.example:8443/x")));
        assertNotNull(px.proxyFor(URI.create("https://host.example/x")), "no_proxy's port must match");
        assertNotNull(px.proxyFor(URI.create("https://11.1.2.3/x")));
        assertThrows(BadInputException.class, () -> HubProxies.from(Map.of("HTTPS_PROXY", "socks5://p:1080")));
    }

    /**
     * A Python process holds the blob's lock as huggingface_hub's filelock does ({@code fcntl.flock} on
     * {@code .locks/models--owner--model/<etag>.lock}); our download waits for it, then finds the blob Python wrote and
     * fetches nothing.
     */
    @Test
    void aDownloadWaitsForPythonHoldingHuggingfaceHubsLockAndUsesWhatItWrote() throws Exception {
        try (HubServer server = hub()) {
            String etag = HubServer.sha256(weights());
            Path lock = home.resolve("hub/.locks/models--owner--model/" + etag + ".lock");
            Files.createDirectories(lock.getParent());
            Files.createDirectories(blobs());
            Path script = home.resolve("hold.py");
            Files.writeString(script, String.join("\n",
                    "import fcntl, os, sys",
                    "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)",
                    "fcntl.flock(fd, fcntl.LOCK_EX)",
                    "print('locked', flush=True)",
                    "sys.stdin.readline()",
                    "with open(sys.argv[2] + '.incomplete', 'wb') as f: f.write(open(sys.argv[3], 'rb').read())",
                    "os.replace(sys.argv[2] + '.incomplete', sys.argv[2])",
                    "fcntl.flock(fd, fcntl.LOCK_UN)", ""));
            Path source = home.resolve("source.bin");
            Files.write(source, weights());
            Process py = new ProcessBuilder("python3", script.toString(), lock.toString(), blobs().resolve(etag).toString(), source.toString())
                    .redirectErrorStream(true).start();
            try {
                BufferedReader out = new BufferedReader(new InputStreamReader(py.getInputStream(), StandardCharsets.UTF_8));
                assertEquals("locked", out.readLine());
                CompletableFuture<Path> ours = CompletableFuture.supplyAsync(() -> HubFiles.resolveWeightsFile(FILE, List.of(), null, env(server.url())));
                Thread.sleep(1500);
                assertFalse(ours.isDone(), "our download waits while Python holds the lock");
                assertEquals(0, gets(server));
                py.getOutputStream().write('\n');
                py.getOutputStream().flush();
                Path p = ours.get(30, TimeUnit.SECONDS);
                assertArrayEquals(weights(), Files.readAllBytes(p));
                assertEquals(0, gets(server), "the blob Python wrote is used, not fetched again");
                assertEquals(0, py.waitFor());
            } finally {
                py.destroy();
            }
        }
    }
}
