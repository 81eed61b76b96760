package dev.avatartrain.hub;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Objects;

import dev.avatartrain.errors.BadInputException;
import dev.avatartrain.storage.AtomicFiles;

/**
 * Downloads one repo file into the hub cache, following {@code huggingface_hub}'s {@code hf_hub_download}:
 * <ol>
 * <li>a commit-hash revision already in {@code snapshots/} is returned without the network;</li>
 * <li>offline ({@code HF_HUB_OFFLINE}) or when the endpoint cannot be reached, the cached file of
 * {@code refs/<revision>} is used, or the error says it is not cached;</li>
 * <li>otherwise a HEAD on {@code ENDPOINT/<repo>/resolve/<revision>/<path>} (relative redirects followed, e.g. a
 * renamed repo) gives the commit ({@code X-Repo-Commit}), the blob name ({@code X-Linked-Etag}, else
 * {@code ETag}) and the size; a blob already cached is only linked into the snapshot;</li>
 * <li>else the file is fetched (redirects followed, to a CDN too), written to a temporary file, checked
 * against the size and, for LFS files (64-hex ETag), the SHA-256, and renamed into {@code blobs/}.</li>
 * </ol>
 * The token ({@code Authorization: Bearer}) is sent to the endpoint's host only, never to a host a
 * redirect leads to (huggingface_hub drops it for the CDN in the same way).
 * <p>
 * Servers that send no {@code X-Repo-Commit} (a plain file server or mirror): huggingface_hub refuses them
 * ("Distant resource does not seem to be on huggingface.co"). This tool accepts them: the snapshot folder is
 * the revision itself when it is a commit hash, else the revision's name ({@code /} written as {@code --}),
 * with {@code refs/<revision>} naming it so an offline huggingface_hub finds the files too. Without an ETag
 * the blob is named by the content's SHA-256 (what the hub uses for LFS files), and a file already in the
 * snapshot is reused without a download (there is nothing to compare it with: delete it to refresh).
 */
final class HubClient {
    private static final Logger LOG = LoggerFactory.getLogger(HubClient.class);
    private static final int MAX_REDIRECTS = 10;
    private static final Duration HEAD_TIMEOUT = Duration.ofSeconds(10);
    private static final Duration GET_TIMEOUT = Duration.ofSeconds(60);

    private final HubEnv env;
    private final HttpClient http;
    private final URI endpoint;

    HubClient(HubEnv env) {
        this.env = env;
        this.endpoint = URI.create(env.endpoint() + "/");
        this.http = HttpClient.newBuilder().followRedirects(HttpClient.Redirect.NEVER)
                .connectTimeout(Duration.ofSeconds(10)).build();
    }

    /** The metadata a HEAD gave: the URL to fetch, the commit, the blob name and the size (each may be null). */
    private record Meta(URI location, String commit, String etag, Long size) {}

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
                return cached(cache, revision, repoPath, what + ": HF_HUB_OFFLINE is set and the file is not in the cache " + cache.repoDir()
                        + "; download it once online (or with `huggingface-cli download " + repoId + " " + repoPath + "`)");
            }
            URI url = resolveUrl(repoId, revision, repoPath);
            Meta meta;
            try {
                meta = head(url, what);
            } catch (ConnectException | HttpConnectTimeoutException | java.nio.channels.UnresolvedAddressException e) {
                return cached(cache, revision, repoPath, what + ": cannot reach " + env.endpoint() + " (" + e + ") and the file is not in the cache "
                        + cache.repoDir() + "; check HF_ENDPOINT and the network, or set HF_HUB_OFFLINE=1 with a filled cache");
            }
            String snapshot = meta.commit() != null ? meta.commit()
                    : revision.matches("[0-9a-f]{40}") ? revision : revision.replace("/", "--");
            if (meta.etag() != null && Files.exists(cache.blob(meta.etag()))) {
                Path p = cache.link(snapshot, repoPath, meta.etag());
                cache.writeRef(revision, snapshot);
                return p;
            }
            if (meta.etag() == null && Files.exists(cache.pointer(snapshot, repoPath))) {
                cache.writeRef(revision, snapshot);
                return cache.pointer(snapshot, repoPath);
            }
            String etag = download(meta, cache, what);
            Path p = cache.link(snapshot, repoPath, etag);
            cache.writeRef(revision, snapshot);
            return p;
        } catch (IOException e) {
            throw new BadInputException(what + ": " + e.getMessage() + " (cache " + cache.repoDir() + ")", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BadInputException(what + ": interrupted", e);
        }
    }

    private static String describe(String repoId, String revision, String repoPath) {
        return "Hugging Face repo " + repoId + " (revision " + revision + "), file " + repoPath;
    }

    private static Path cached(HubCache cache, String revision, String repoPath, String error) throws IOException {
        String commit = cache.commitOf(revision);
        if (commit != null && Files.exists(cache.pointer(commit, repoPath))) return cache.pointer(commit, repoPath);
        throw new BadInputException(error);
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
            HttpResponse<Void> r = http.send(request(current, HEAD_TIMEOUT).method("HEAD", HttpRequest.BodyPublishers.noBody()).build(),
                    HttpResponse.BodyHandlers.discarding());
            HttpHeaders h = r.headers();
            commit = h.firstValue("X-Repo-Commit").orElse(commit);
            String e = h.firstValue("X-Linked-Etag").or(() -> h.firstValue("ETag")).map(HubClient::normalizeEtag).orElse(null);
            if (e != null) etag = e;
            Long s = h.firstValue("X-Linked-Size").or(() -> r.statusCode() / 100 == 2 ? h.firstValue("Content-Length") : java.util.Optional.empty())
                    .map(Long::parseLong).orElse(null);
            if (s != null) size = s;
            int status = r.statusCode();
            if (status >= 300 && status < 400) {
                URI next = redirect(current, h, what);
                if (!sameOrigin(next, current)) return new Meta(next, commit, etag, size); // a CDN: fetched by the GET
                current = next;
                continue;
            }
            if (status / 100 != 2) throw httpError(status, h, current, what);
            return new Meta(current, commit, etag, size);
        }
        throw new IOException("more than " + MAX_REDIRECTS + " redirects from " + url);
    }

    /** Streams the file into {@code blobs/} and returns the blob name. */
    private String download(Meta meta, HubCache cache, String what) throws IOException, InterruptedException {
        URI current = meta.location();
        for (int hop = 0; hop <= MAX_REDIRECTS; hop++) {
            HttpResponse<InputStream> r = http.send(request(current, GET_TIMEOUT).GET().build(), HttpResponse.BodyHandlers.ofInputStream());
            int status = r.statusCode();
            if (status >= 300 && status < 400) {
                r.body().close();
                current = redirect(current, r.headers(), what);
                continue;
            }
            if (status / 100 != 2) {
                r.body().close();
                throw httpError(status, r.headers(), current, what);
            }
            if (meta.size() != null && meta.size() > (64L << 20)) {
                LOG.info("hub: downloading " + what + " (" + (meta.size() >> 20) + " MB) from " + current.getHost());
            }
            Path tmp = cache.newIncomplete();
            try {
                MessageDigest sha = MessageDigest.getInstance("SHA-256");
                long n;
                try (InputStream in = new DigestInputStream(r.body(), sha);
                     OutputStream out = Files.newOutputStream(tmp)) {
                    n = in.transferTo(out);
                }
                String sha256 = HexFormat.of().formatHex(sha.digest());
                if (meta.size() != null && n != meta.size()) {
                    throw new IOException("download from " + shown(current) + " ended after " + n + " of " + meta.size() + " bytes");
                }
                String etag = meta.etag() != null ? meta.etag() : sha256;
                if (etag.matches("[0-9a-f]{64}") && !etag.equals(sha256)) {
                    throw new IOException("download from " + shown(current) + " has SHA-256 " + sha256 + " but the hub announced " + etag);
                }
                Files.createDirectories(cache.blob(etag).getParent());
                AtomicFiles.moveIntoPlace(tmp, cache.blob(etag));
                return etag;
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException(e);
            } finally {
                Files.deleteIfExists(tmp);
            }
        }
        throw new IOException("more than " + MAX_REDIRECTS + " redirects from " + meta.location());
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
