package dev.avatartrain.hub;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.net.Authenticator;
import java.net.PasswordAuthentication;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.channels.UnresolvedAddressException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import javax.net.ssl.SSLException;

import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.storage.AtomicFiles;

/**
 * Downloads one repo file into the hub cache, following {@code huggingface_hub}'s {@code hf_hub_download}:
 * <ol>
 * <li>a commit-hash revision already in {@code snapshots/} is returned without the network;</li>
 * <li>offline ({@code HF_HUB_OFFLINE}) the cached file of {@code refs/<revision>} is used, or the error says it is
 * not cached;</li>
 * <li>otherwise a HEAD on {@code ENDPOINT/<repo>/resolve/<revision>/<path>} (relative redirects followed, e.g. a
 * renamed repo) gives the commit ({@code X-Repo-Commit}), the blob name ({@code X-Linked-Etag}, else
 * {@code ETag}) and the size ({@code X-Linked-Size}, else {@code Content-Length}). When it fails for any reason but
 * "no such file or revision" (the endpoint unreachable, a time-out, HTTP 5xx, 401/403, a 404 that names no entry),
 * the cached file of {@code refs/<revision>} answers, with a warning, as in huggingface_hub;</li>
 * <li>a cached blob (or, without an ETag, the snapshot's file) whose size agrees with the HEAD is only linked into the
 * snapshot; one that disagrees (a download cut short by a mirror, say) is fetched again;</li>
 * <li>else, holding huggingface_hub's lock {@code .locks/models--owner--name/<etag>.lock} ({@link HubLock}, so a
 * Python download of the same file and ours wait for each other), the file is fetched (redirects followed, to a CDN
 * too), written to a temporary file, checked against the announced size and, when the ETag is a SHA-256 (LFS files),
 * its digest, and only then renamed into {@code blobs/}.</li>
 * </ol>
 * The token ({@code Authorization: Bearer}) is sent to the endpoint's host only, never to a host a redirect leads to
 * (huggingface_hub drops it for the CDN in the same way). Requests go through the proxies of {@link HubProxies}; the
 * metadata request waits {@code HF_HUB_ETAG_TIMEOUT} seconds, a download {@code HF_HUB_DOWNLOAD_TIMEOUT} for each read.
 * <p>
 * Servers that send no {@code X-Repo-Commit} (a plain file server or mirror): huggingface_hub refuses them
 * ("Distant resource does not seem to be on huggingface.co"). This tool accepts them: the snapshot folder is
 * the revision itself when it is a commit hash, else the revision's name ({@code /} written as {@code --}),
 * with {@code refs/<revision>} naming it so an offline huggingface_hub finds the files too. Without an ETag
 * the blob is named by the content's SHA-256 (what the hub uses for LFS files), and the snapshot's file is reused
 * while its size agrees with the server's.
 */
final class HubClient {
    private static final Logger LOG = LoggerFactory.getLogger(HubClient.class);
    private static final int MAX_REDIRECTS = 10;

    private final HubEnv env;
    private final HttpClient http;
    private final URI endpoint;

    HubClient(HubEnv env) {
        this.env = env;
        this.endpoint = URI.create(env.endpoint() + "/");
        HttpClient.Builder b = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NEVER)
                .connectTimeout(env.etagTimeout()).proxy(env.proxies());
        if (env.proxies().hasCredentials()) {
            // only then: with an authenticator the JDK's client also takes over the hub's own 401 answers
            b.authenticator(new Authenticator() {
                @Override
                protected PasswordAuthentication getPasswordAuthentication() {
                    return getRequestorType() == RequestorType.PROXY ? env.proxies().credentials(getRequestingHost()) : null;
                }
            });
        }
        this.http = b.build();
    }

    /** The metadata a HEAD gave: the URL to fetch, the commit, the blob name and the size (each may be null). */
    private record Meta(URI location, String commit, String etag, Long size) {}

    /** An HTTP error answer; {@code definitive} when the hub says the file or revision does not exist. */
    private static final class HttpFailure extends IOException {
        final BadInputException error;
        final boolean definitive;

        HttpFailure(BadInputException error, boolean definitive) {
            super(error.getMessage());
            this.error = error;
            this.definitive = definitive;
        }
    }

    /** The local (snapshot) path of {@code repoPath} in {@code repoId} at {@code revision}, downloading it if needed. */
    Path file(String repoId, String revision, String repoPath) {
        HubCache cache = new HubCache(env.cacheDir(), repoId);
        String what = describe(repoId, revision, repoPath);
        try {
            if (revision.matches("[0-9a-f]{40}")) {
                Path p = cache.pointer(revision, repoPath);
                if (Files.exists(p)) return p;
            }
            if (env.offline()) {
                return cached(cache, revision, repoPath, null, new BadInputException(what + ": HF_HUB_OFFLINE is set and the file is"
                        + " not in the cache " + cache.repoDir() + "; download it once online (or with `huggingface-cli download "
                        + repoId + " " + repoPath + "`)"));
            }
            URI url = resolveUrl(repoId, revision, repoPath);
            Meta meta;
            try {
                meta = head(url, what);
            } catch (HttpFailure e) {
                if (e.definitive) throw e.error;
                return cached(cache, revision, repoPath, what, e.error);
            } catch (SSLException e) {
                throw new BadInputException(what + ": TLS with " + env.endpoint() + " failed (" + e.getMessage() + ")", e);
            } catch (IOException | UnresolvedAddressException e) {
                URI proxy = env.proxies().proxyFor(url);
                String how = e instanceof HttpTimeoutException ? " did not answer within " + env.etagTimeout().toMillis() / 1000.0
                        + " s (HF_HUB_ETAG_TIMEOUT)" : " (" + e + ")";
                return cached(cache, revision, repoPath, what, new BadInputException(what + ": cannot reach " + env.endpoint()
                        + (proxy == null ? "" : " through the proxy " + HubProxies.shown(proxy)) + how
                        + "; check HF_ENDPOINT, the proxy settings and the network, or set HF_HUB_OFFLINE=1 with a filled cache", e));
            }
            String snapshot = meta.commit() != null ? meta.commit()
                    : revision.matches("[0-9a-f]{40}") ? revision : revision.replace("/", "--");
            Path reused = reuse(cache, snapshot, repoPath, meta, what);
            if (reused == null) {
                String lockName = meta.etag() != null ? meta.etag() : "path-" + HubFiles.sha256(snapshot + "/" + repoPath);
                try (HubLock lock = HubLock.acquire(cache.lock(lockName), what)) {
                    reused = reuse(cache, snapshot, repoPath, meta, what); // another process may have just fetched it
                    if (reused == null) reused = cache.link(snapshot, repoPath, download(meta, cache, what));
                }
            }
            cache.writeRef(revision, snapshot);
            return reused;
        } catch (IOException e) {
            throw new BadInputException(what + ": " + e.getMessage() + " (cache " + cache.repoDir() + ")", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BadInputException(what + ": interrupted", e);
        }
    }

    /** The cached file when it agrees with the HEAD's size (linked into the snapshot), else null. */
    private static Path reuse(HubCache cache, String snapshot, String repoPath, Meta meta, String what) throws IOException {
        Path cached = meta.etag() != null ? cache.blob(meta.etag()) : cache.pointer(snapshot, repoPath);
        if (!Files.exists(cached)) return null;
        long size = Files.size(cached);
        if (meta.size() != null && size != meta.size()) {
            LOG.warn("hub: {}: the cached copy {} has {} bytes but the server announces {}; fetching it again", what, cached, size, meta.size());
            return null;
        }
        return meta.etag() != null ? cache.link(snapshot, repoPath, meta.etag()) : cached;
    }

    private String describe(String repoId, String revision, String repoPath) {
        return "Hugging Face repo " + repoId + " (revision " + revision + "), file " + repoPath + " at " + env.endpoint();
    }

    /**
     * The cached file of {@code refs/<revision>} when the hub could not answer ({@code what} != null: warned), else
     * {@code error}, saying the cache does not have it either.
     */
    private static Path cached(HubCache cache, String revision, String repoPath, String what, BadInputException error)
            throws IOException {
        String commit = cache.commitOf(revision);
        if (commit != null && Files.exists(cache.pointer(commit, repoPath))) {
            if (what != null) LOG.warn("hub: using the cached copy of {}: {}", what, error.getMessage().replace(what + ": ", ""));
            return cache.pointer(commit, repoPath);
        }
        if (what == null) throw error;
        String msg = error.getMessage() + " (and the file is not in the cache " + cache.repoDir() + ")";
        throw error instanceof HubFileNotFoundException ? new HubFileNotFoundException(msg) : new BadInputException(msg, error.getCause());
    }

    /** {@code ENDPOINT/<repo>/resolve/<revision, "/" escaped>/<path>}, as hf_hub_url builds it. */
    URI resolveUrl(String repoId, String revision, String repoPath) {
        return endpoint.resolve(repoId + "/resolve/" + encode(revision, false) + "/" + encode(repoPath, true));
    }

    private static String encode(String s, boolean keepSlash) {
        StringBuilder b = new StringBuilder();
        for (byte c : s.getBytes(StandardCharsets.UTF_8)) {
            int ch = c & 0xff;
            if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || "-._~".indexOf(ch) >= 0
                    || (keepSlash && ch == '/')) {
                b.append((char) ch);
            } else {
                b.append('%').append(String.format(Locale.ROOT, "%02X", ch));
            }
        }
        return b.toString();
    }

    private Meta head(URI url, String what) throws IOException, InterruptedException {
        URI current = url;
        String commit = null, etag = null;
        Long size = null;
        for (int hop = 0; hop <= MAX_REDIRECTS; hop++) {
            HttpResponse<Void> r = http.send(request(current, env.etagTimeout()).method("HEAD", HttpRequest.BodyPublishers.noBody()).build(),
                    HttpResponse.BodyHandlers.discarding());
            HttpHeaders h = r.headers();
            commit = h.firstValue("X-Repo-Commit").orElse(commit);
            String e = h.firstValue("X-Linked-Etag").or(() -> h.firstValue("ETag")).map(HubClient::normalizeEtag).orElse(null);
            if (e != null) etag = e;
            Long s = h.firstValue("X-Linked-Size").or(() -> r.statusCode() / 100 == 2 ? h.firstValue("Content-Length") : Optional.empty())
                    .map(Long::parseLong).orElse(null);
            if (s != null) size = s;
            int status = r.statusCode();
            if (status >= 300 && status < 400) {
                URI next = redirect(current, h, what);
                if (!sameOrigin(next, current)) return new Meta(next, commit, etag, size); // a CDN: fetched by the GET
                current = next;
                continue;
            }
            if (status / 100 != 2) {
                String code = h.firstValue("X-Error-Code").orElse("");
                boolean definitive = status == 404 && (code.equals("EntryNotFound") || code.equals("RevisionNotFound"));
                throw new HttpFailure(httpError(status, h, current, what), definitive);
            }
            return new Meta(current, commit, etag, size);
        }
        throw new IOException("more than " + MAX_REDIRECTS + " redirects from " + url);
    }

    /** Streams the file into {@code blobs/}, checked against the announced size and digest, and returns the blob name. */
    private String download(Meta meta, HubCache cache, String what) throws IOException, InterruptedException {
        URI current = meta.location();
        for (int hop = 0; hop <= MAX_REDIRECTS; hop++) {
            Path tmp = cache.newIncomplete();
            try {
                HttpResponse<Path> r = fetch(current, tmp, what);
                int status = r.statusCode();
                if (status >= 300 && status < 400) {
                    current = redirect(current, r.headers(), what);
                    continue;
                }
                if (status / 100 != 2) throw httpError(status, r.headers(), current, what);
                Long expected = meta.size() != null ? meta.size()
                        : r.headers().firstValue("Content-Length").map(Long::parseLong).orElse(null);
                long n = Files.size(tmp);
                if (expected != null && n != expected) {
                    throw new IOException("download from " + shown(current) + " ended after " + n + " of " + expected
                            + " bytes; nothing was cached, run again to retry");
                }
                String sha256 = sha256(tmp);
                String etag = meta.etag() != null ? meta.etag() : sha256;
                if (etag.matches("[0-9a-f]{64}") && !etag.equals(sha256)) {
                    throw new IOException("download from " + shown(current) + " has SHA-256 " + sha256 + " but the hub announced "
                            + etag + "; nothing was cached, run again to retry");
                }
                Files.createDirectories(cache.blob(etag).getParent());
                AtomicFiles.moveIntoPlace(tmp, cache.blob(etag));
                return etag;
            } finally {
                Files.deleteIfExists(tmp);
            }
        }
        throw new IOException("more than " + MAX_REDIRECTS + " redirects from " + meta.location());
    }

    /**
     * A GET whose 2xx body goes to {@code tmp}; it fails when no byte arrives for {@code HF_HUB_DOWNLOAD_TIMEOUT} (the
     * JDK's client times out only the wait for the headers; a stalled body would otherwise block forever).
     */
    private HttpResponse<Path> fetch(URI url, Path tmp, String what) throws IOException, InterruptedException {
        HttpRequest req = request(url, env.downloadTimeout()).GET().build();
        CompletableFuture<HttpResponse<Path>> f = http.sendAsync(req, info -> info.statusCode() / 100 == 2
                ? HttpResponse.BodySubscribers.ofFile(tmp) : HttpResponse.BodySubscribers.replacing(null));
        long limit = env.downloadTimeout().toNanos(), lastSize = -1, lastProgress = System.nanoTime();
        long period = Math.max(50, env.downloadTimeout().toMillis() / 4);
        boolean big = false;
        while (true) {
            try {
                return f.get(period, TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                long size = Files.exists(tmp) ? Files.size(tmp) : 0;
                if (size != lastSize) {
                    lastSize = size;
                    lastProgress = System.nanoTime();
                    if (!big && size > (64L << 20)) {
                        big = true;
                        LOG.info("hub: downloading {} from {} (more than 64 MB)", what, url.getHost());
                    }
                } else if (System.nanoTime() - lastProgress > limit) {
                    f.cancel(true);
                    throw new HttpTimeoutException("no data from " + shown(url) + " for " + env.downloadTimeout().toMillis() / 1000.0
                            + " s (HF_HUB_DOWNLOAD_TIMEOUT); nothing was cached, run again to retry");
                }
            } catch (ExecutionException e) {
                if (e.getCause() instanceof IOException io) throw io;
                throw new IOException(e.getCause());
            } catch (InterruptedException e) {
                f.cancel(true);
                throw e;
            }
        }
    }

    private static String sha256(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 20];
            for (int k; (k = in.read(buf)) > 0; ) sha.update(buf, 0, k);
            return HexFormat.of().formatHex(sha.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private HttpRequest.Builder request(URI uri, Duration timeout) {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri).timeout(timeout)
                .header("User-Agent", "avatar-train; java/" + Runtime.version().feature())
                .header("Accept-Encoding", "identity");
        if (env.token() != null && sameOrigin(uri, endpoint)) b.header("Authorization", "Bearer " + env.token());
        return b;
    }

    private static URI redirect(URI from, HttpHeaders h, String what) throws IOException {
        String loc = h.firstValue("Location").orElseThrow(() -> new IOException("redirect without a Location header from " + from));
        return from.resolve(loc);
    }

    private static boolean sameOrigin(URI a, URI b) {
        return Objects.equals(a.getScheme(), b.getScheme()) && Objects.equals(a.getHost(), b.getHost()) && port(a) == port(b);
    }

    private static int port(URI u) {
        return u.getPort() != -1 ? u.getPort() : "https".equalsIgnoreCase(u.getScheme()) ? 443 : 80;
    }

    /** The URL without its query (a CDN's signed query is a credential). */
    private static String shown(URI u) {
        return u.getScheme() + "://" + u.getAuthority() + u.getRawPath();
    }

    /** An ETag header without the weak prefix and quotes: {@code W/"abc"} → {@code abc}. */
    static String normalizeEtag(String etag) {
        String e = etag.strip();
        if (e.startsWith("W/")) e = e.substring(2);
        e = e.replace("\"", "");
        return e.isEmpty() || !e.matches("[\\w.+=-]+") ? null : e;
    }

    private BadInputException httpError(int status, HttpHeaders h, URI url, String what) {
        String code = h.firstValue("X-Error-Code").orElse("");
        String hint = switch (status) {
            case 401 -> env.token() == null
                    ? "the repo is private, gated or does not exist: set HF_TOKEN to a token that can read it (or run `huggingface-cli login`)"
                    : "the token in HF_TOKEN was refused, or the repo does not exist: check the repo id and the token";
            case 403 -> "the token has no access to this repo: for a gated repo accept its terms at " + env.endpoint() + "/"
                    + what.replaceFirst("^Hugging Face repo (\\S+).*", "$1") + ", and use a token with read access";
            case 404 -> switch (code) {
                case "RepoNotFound" -> "the repo does not exist (or is private: set HF_TOKEN)";
                case "RevisionNotFound" -> "the revision does not exist in the repo: check the branch, tag or commit after @";
                case "EntryNotFound" -> "the repo has no such file at this revision: check the file name and the subfolder after :";
                default -> "the repo, the revision or the file does not exist: check the repo id, the revision after @ and the path after :";
            };
            default -> "the server failed";
        };
        String message = what + ": HTTP " + status + (code.isEmpty() ? "" : " " + code) + " from " + shown(url) + ": " + hint;
        return status == 404 ? new HubFileNotFoundException(message) : new BadInputException(message);
    }
}
