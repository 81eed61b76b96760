package dev.avatartrain.hub;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.avatartrain.errors.BadInputException;

/** Downloads from a loopback server that serves only {@code /<repo>/resolve/<revision>/<file>}, into a temporary hub cache. */
class HubFilesTest {
    private static final String COMMIT = "0123456789abcdef0123456789abcdef01234567";

    @TempDir
    Path home;

    private HubEnv env(HubServer server, String... more) {
        Map<String, String> vars = new java.util.HashMap<>(Map.of("HF_HOME", home.toString(), "HF_ENDPOINT", server.url()));
        for (int i = 0; i < more.length; i += 2) vars.put(more[i], more[i + 1]);
        return HubEnv.from(vars, home.toString());
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void plainServerWithoutHubHeadersFillsTheCacheAndServesLaterRunsWithoutTheNetwork() throws Exception {
        byte[] weights = bytes("weights-of-the-encoder");
        Path first;
        try (HubServer server = new HubServer("127.0.0.1")) {
            server.put("madebyollin/taesd", "main", "vae/diffusion_pytorch_model.safetensors", weights);
            server.put("madebyollin/taesd", "main", "vae/config.json", bytes("{}"));
            List<Path> got = HubFiles.resolve("madebyollin/taesd:vae", List.of("diffusion_pytorch_model.safetensors", "config.json"), null, env(server));
            first = got.get(0);
            assertArrayEquals(weights, Files.readAllBytes(first));
            assertArrayEquals(bytes("{}"), Files.readAllBytes(got.get(1)));

            // huggingface_hub's layout: no commit header, so the snapshot is named after the revision and refs/main names it
            Path repo = home.resolve("hub/models--madebyollin--taesd");
            assertEquals(repo.resolve("snapshots/main/vae/diffusion_pytorch_model.safetensors"), first);
            assertTrue(Files.isSymbolicLink(first));
            assertEquals(Path.of("../../../blobs/" + HubServer.sha256(weights)), Files.readSymbolicLink(first));
            assertEquals("main", Files.readString(repo.resolve("refs/main")));
            try (var s = Files.list(repo.resolve("blobs"))) {
                assertEquals(2, s.count(), "two blobs and no temporary files left");
            }

            // second run with the server up: the file is in the snapshot, nothing is downloaded again
            int before = server.requests.size();
            assertEquals(first, HubFiles.resolve("madebyollin/taesd:vae", List.of("diffusion_pytorch_model.safetensors"), null, env(server)).get(0));
            assertTrue(server.requests.subList(before, server.requests.size()).stream().noneMatch(r -> r.method().equals("GET")),
                    "a cached file must not be fetched again: " + server.requests);
        }
        // server gone: the cache answers (as huggingface_hub falls back when the endpoint cannot be reached)
        HubEnv down = HubEnv.from(Map.of("HF_HOME", home.toString(), "HF_ENDPOINT", "http://127.0.0.1:1"), home.toString());
        assertEquals(first, HubFiles.resolve("madebyollin/taesd:vae", List.of("diffusion_pytorch_model.safetensors"), null, down).get(0));
        BadInputException e = assertThrows(BadInputException.class,
                () -> HubFiles.resolve("madebyollin/taesd:vae", List.of("missing.bin"), null, down));
        assertTrue(e.getMessage().contains("madebyollin/taesd") && e.getMessage().contains("vae/missing.bin")
                && e.getMessage().contains("cannot reach"), e.getMessage());
    }

    @Test
    void hubLikeServerWithTokenAndCdnRedirectKeepsTheTokenOnTheHubHost() throws Exception {
        byte[] weights = bytes("lfs-weights ".repeat(1000));
        try (HubServer hub = new HubServer("127.0.0.1"); HubServer cdn = new HubServer("localhost")) {
            hub.hubHeaders = true;
            hub.commit = COMMIT;
            hub.token = "hf_secret";
            hub.redirectTo = cdn;
            hub.put("owner/private-model", "v1.0", "unet/diffusion_pytorch_model.safetensors", weights);

            BadInputException noToken = assertThrows(BadInputException.class,
                    () -> HubFiles.resolve("owner/private-model@v1.0:unet", List.of("diffusion_pytorch_model.safetensors"), null, env(hub)));
            assertTrue(noToken.getMessage().contains("HTTP 401") && noToken.getMessage().contains("HF_TOKEN")
                    && noToken.getMessage().contains("owner/private-model"), noToken.getMessage());

            Path p = HubFiles.resolve("owner/private-model@v1.0:unet", List.of("diffusion_pytorch_model.safetensors"), null,
                    env(hub, "HF_TOKEN", "hf_secret")).get(0);
            assertArrayEquals(weights, Files.readAllBytes(p));
            Path repo = home.resolve("hub/models--owner--private-model");
            assertEquals(repo.resolve("snapshots/" + COMMIT + "/unet/diffusion_pytorch_model.safetensors"), p);
            assertEquals(COMMIT, Files.readString(repo.resolve("refs/v1.0")));
            assertTrue(Files.isRegularFile(repo.resolve("blobs/" + HubServer.sha256(weights))));
            assertFalse(cdn.requests.isEmpty(), "the file came from the CDN");
            assertTrue(cdn.requests.stream().allMatch(r -> r.authorization() == null), "token leaked to the CDN: " + cdn.requests);
            assertTrue(hub.requests.stream().filter(r -> r.authorization() != null).count() >= 1);

            // a commit-hash revision already cached: no request at all
            int before = hub.requests.size();
            assertEquals(p, HubFiles.resolve("owner/private-model@" + COMMIT + ":unet", List.of("diffusion_pytorch_model.safetensors"),
                    null, env(hub)).get(0));
            assertEquals(before, hub.requests.size());

            // a blob already cached under another revision is linked, not downloaded
            hub.put("owner/private-model", "main", "unet/diffusion_pytorch_model.safetensors", weights);
            int cdnBefore = cdn.requests.size();
            HubFiles.resolveWeightsFile("owner/private-model:unet/diffusion_pytorch_model.safetensors", List.of(), null, env(hub, "HF_TOKEN", "hf_secret"));
            assertEquals(cdnBefore, cdn.requests.size());
            assertEquals(COMMIT, Files.readString(repo.resolve("refs/main")));
        }
    }

    @Test
    void missingFileNamesRepoFileAndStatusAndAlternativesAreTried() throws Exception {
        try (HubServer server = new HubServer("127.0.0.1")) {
            server.hubHeaders = true;
            server.commit = COMMIT;
            server.put("madebyollin/taesd", "main", "taesd_encoder.pth", bytes("enc"));
            server.put("madebyollin/taesd", "main", "taesd_decoder.pth", bytes("dec"));
            HubFileNotFoundException e = assertThrows(HubFileNotFoundException.class,
                    () -> HubFiles.resolve("madebyollin/taesd", List.of("diffusion_pytorch_model.safetensors"), null, env(server)));
            assertTrue(e.getMessage().contains("madebyollin/taesd") && e.getMessage().contains("diffusion_pytorch_model.safetensors")
                    && e.getMessage().contains("HTTP 404") && e.getMessage().contains("EntryNotFound"), e.getMessage());

            List<Path> pair = HubFiles.resolveFirst("madebyollin/taesd",
                    List.of(List.of("diffusion_pytorch_model.safetensors"), List.of("taesd_encoder.pth", "taesd_decoder.pth")), null, env(server));
            assertArrayEquals(bytes("dec"), Files.readAllBytes(pair.get(1)));

            // a bare repo id gives the model kind's usual file, as from_pretrained finds it
            assertArrayEquals(bytes("enc"), Files.readAllBytes(HubFiles.resolveWeightsFile("madebyollin/taesd",
                    List.of("diffusion_pytorch_model.safetensors", "taesd_encoder.pth"), null, env(server))));
            HubFileNotFoundException noFile = assertThrows(HubFileNotFoundException.class, () -> HubFiles.resolveWeightsFile(
                    "madebyollin/taesd@main", List.of("unet.pth"), null, env(server)));
            assertTrue(noFile.getMessage().contains("madebyollin/taesd@main") && noFile.getMessage().contains("unet.pth"), noFile.getMessage());
        }
    }

    @Test
    void offlineModeUsesTheCacheOnlyAndSaysSoWhenAFileIsMissing() throws Exception {
        try (HubServer server = new HubServer("127.0.0.1")) {
            server.hubHeaders = true;
            server.commit = COMMIT;
            server.put("owner/model", "main", "a.safetensors", bytes("a"));
            server.put("owner/model", "main", "b.safetensors", bytes("b"));
            Path a = HubFiles.resolveWeightsFile("owner/model:a.safetensors", List.of(), null, env(server));
            int before = server.requests.size();
            HubEnv offline = env(server, "HF_HUB_OFFLINE", "1");
            assertEquals(a, HubFiles.resolveWeightsFile("owner/model:a.safetensors", List.of(), null, offline));
            BadInputException e = assertThrows(BadInputException.class, () -> HubFiles.resolveWeightsFile("owner/model:b.safetensors", List.of(), null, offline));
            assertTrue(e.getMessage().contains("HF_HUB_OFFLINE") && e.getMessage().contains("b.safetensors"), e.getMessage());
            assertEquals(before, server.requests.size(), "offline mode made requests");
        }
    }

    @Test
    void specsAndEnvironment() {
        HubSpec s = HubSpec.parse("owner/name@refs/pr/3:sub/dir");
        assertEquals("owner/name", s.repoId());
        assertEquals("refs/pr/3", s.revision());
        assertEquals("sub/dir/x.bin", s.inRepo("x.bin"));
        assertEquals("main", HubSpec.parse("madebyollin/taesd").revision());
        assertTrue(HubFiles.isRepoId("madebyollin/taesd"));
        assertFalse(HubFiles.isRepoId("s3a://bucket/key"));
        assertFalse(HubFiles.isRepoId("/abs/path"));
        assertFalse(HubFiles.isRepoId("a/b/c"));
        assertFalse(HubFiles.isRepoId("owner/na--me"));
        assertThrows(BadInputException.class, () -> HubSpec.parse("owner/name:../x"));
        assertEquals("https://huggingface.co/a/b/resolve/refs%2Fpr%2F3/x%20y/z.bin",
                new HubClient(HubEnv.from(Map.of(), "/h")).resolveUrl("a/b", "refs/pr/3", "x y/z.bin").toString());

        HubEnv d = HubEnv.from(Map.of(), "/h");
        assertEquals(Path.of("/h/.cache/huggingface/hub"), d.cacheDir());
        assertEquals(HubEnv.DEFAULT_ENDPOINT, d.endpoint());
        assertFalse(d.offline());
        HubEnv c = HubEnv.from(Map.of("HF_HOME", "/x", "HF_HUB_CACHE", "/y", "HF_HUB_OFFLINE", "true", "HF_TOKEN", "hf_zzz"), "/h");
        assertEquals(Path.of("/y"), c.cacheDir());
        assertTrue(c.offline());
        assertEquals("hf_zzz", c.token());
        assertFalse(c.toString().contains("hf_zzz"), "the token is not printed");
    }
}
