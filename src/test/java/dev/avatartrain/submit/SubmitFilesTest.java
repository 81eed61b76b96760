package dev.avatartrain.submit;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.yaml.snakeyaml.Yaml;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * The files under spark-submit/ that cannot run here (EMR, Dataproc, Airflow) checked against their platforms'
 * documented formats and against each other, and the shell scripts run for real with a spark-submit that prints
 * what it was given.
 */
class SubmitFilesTest {
    private static final Path DIR = Path.of("spark-submit");
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final Set<String> STEP_ACTIONS = Set.of("TERMINATE_CLUSTER", "CANCEL_AND_WAIT", "CONTINUE", "TERMINATE_JOB_FLOW");
    /** Settings the chunked engine no longer needs (#17): no file may carry them. */
    private static final List<String> RETIRED = List.of("spark.driver.maxResultSize", "spark.kryoserializer.buffer.max");
    private static final long G5_2XLARGE_MIB = 32 * 1024;
    private static final int G5_2XLARGE_VCPUS = 8;
    /** YARN's yarn.scheduler.minimum-allocation-mb default: container memory is rounded up to it. */
    private static final long YARN_MIN_ALLOCATION_MIB = 1024;

    @TempDir
    Path tmp;

    @Test
    void noFileCarriesRetiredSettings() throws IOException {
        try (Stream<Path> files = Files.walk(DIR)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                String text = Files.readString(f);
                for (String k : RETIRED) assertFalse(text.contains(k), f + " still sets " + k);
            }
        }
    }

    @Test
    void emrConfigurationsFollowTheEmr7GpuOnYarnSetup() throws IOException {
        JsonNode conf = JSON.readTree(DIR.resolve("emr/configurations.json").toFile());
        Map<String, JsonNode> byName = classifications(conf, "emr/configurations.json");
        JsonNode yarn = byName.get("yarn-site").get("Properties");
        assertEquals("yarn.io/gpu", yarn.get("yarn.resource-types").asText());
        assertEquals("yarn.io/gpu", yarn.get("yarn.nodemanager.resource-plugins").asText());
        assertEquals("org.apache.hadoop.yarn.server.nodemanager.LinuxContainerExecutor", yarn.get("yarn.nodemanager.container-executor.class").asText());
        String mount = yarn.get("yarn.nodemanager.linux-container-executor.cgroups.mount-path").asText();
        assertNotEquals("/sys/fs/cgroup", mount, "EMR 7 (Amazon Linux 2023, cgroup v2) needs the cgroup v1 devices mount of the bootstrap action");
        Map<String, JsonNode> ce = classifications(byName.get("container-executor").get("Configurations"), "container-executor");
        assertEquals("true", ce.get("gpu").get("Properties").get("module.enabled").asText());
        assertEquals(mount, ce.get("cgroups").get("Properties").get("root").asText());
        assertEquals(yarn.get("yarn.nodemanager.linux-container-executor.cgroups.hierarchy").asText(),
                ce.get("cgroups").get("Properties").get("yarn-hierarchy").asText());
        String bootstrap = Files.readString(DIR.resolve("emr/bootstrap-gpu-cgroup.sh"));
        assertTrue(bootstrap.contains("mount -t cgroup -o devices cgroupv1-devices " + mount + "/devices"), bootstrap);
        assertEquals("org.apache.hadoop.yarn.util.resource.DominantResourceCalculator",
                byName.get("capacity-scheduler").get("Properties").get("yarn.scheduler.capacity.resource-calculator").asText());
        assertTrue(yarnMib(conf) <= G5_2XLARGE_MIB - 4096, "YARN must leave the OS and daemons at least 4 GiB of a g5.2xlarge");
        String readme = Files.readString(DIR.resolve("emr/README.md"));
        assertTrue(readme.contains("--bootstrap-actions") && readme.contains("bootstrap-gpu-cgroup.sh") && readme.contains("emr-7."), "README's create-cluster");
    }

    @Test
    void emrStepsAreValidStepsWhoseExecutorsAndApplicationMasterFitTheNodes() throws Exception {
        JsonNode conf = JSON.readTree(DIR.resolve("emr/configurations.json").toFile());
        long yarnMib = yarnMib(conf);
        int yarnVcores = Integer.parseInt(yarnSite(conf).get("yarn.nodemanager.resource.cpu-vcores").asText());
        assertTrue(yarnVcores <= G5_2XLARGE_VCPUS, "YARN offers " + yarnVcores + " vcores of a g5.2xlarge's " + G5_2XLARGE_VCPUS);
        java.util.regex.Matcher core = java.util.regex.Pattern.compile("InstanceGroupType=CORE,InstanceCount=(\\d+),InstanceType=g5\\.2xlarge")
                .matcher(Files.readString(DIR.resolve("emr/README.md")));
        assertTrue(core.find(), "README's create-cluster names the core nodes");
        int nodes = Integer.parseInt(core.group(1));
        for (String file : List.of("emr/steps-train.json", "emr/steps-make-metadata.json")) {
            JsonNode steps = JSON.readTree(DIR.resolve(file).toFile());
            assertTrue(steps.isArray() && steps.size() > 0, file);
            for (JsonNode step : steps) {
                String name = file + " (" + step.get("Name").asText() + ")";
                for (String k : List.of("Name", "ActionOnFailure", "Type", "Jar", "Args")) assertTrue(step.has(k), file + ": step without " + k);
                assertTrue(STEP_ACTIONS.contains(step.get("ActionOnFailure").asText()), file);
                assertEquals("CUSTOM_JAR", step.get("Type").asText());
                assertEquals("command-runner.jar", step.get("Jar").asText());
                List<String> args = new ArrayList<>();
                step.get("Args").forEach(a -> args.add(a.asText()));
                assertEquals("spark-submit", args.get(0));
                Map<String, String> c = confs(args);
                assertEquals(c.get("spark.executor.cores"), c.get("spark.task.cpus"), name + ": one task per executor with all its cores");
                assertNotNull(c.get("spark.executor.memory"), name);
                boolean cluster = args.get(args.indexOf("--deploy-mode") + 1).equals("cluster");
                // YARN's containers (DominantResourceCalculator: vcores, memory and GPUs all count): the application
                // master first (in cluster mode it is the driver), then the executors, first fit over the core nodes
                Container am = cluster
                        ? new Container(Integer.parseInt(c.getOrDefault("spark.driver.cores", "1")), withOverhead(c.getOrDefault("spark.driver.memory", "1g"), null), 0)
                        : new Container(Integer.parseInt(c.getOrDefault("spark.yarn.am.cores", "1")), withOverhead(c.getOrDefault("spark.yarn.am.memory", "512m"), null), 0);
                Container executor = new Container(Integer.parseInt(c.get("spark.executor.cores")),
                        withOverhead(c.get("spark.executor.memory"), c.get("spark.executor.memoryOverhead")),
                        Integer.parseInt(c.getOrDefault("spark.executor.resource.gpu.amount", "0")));
                int executors = c.containsKey("spark.executor.instances") ? Integer.parseInt(c.get("spark.executor.instances")) : 1;
                List<Container> placed = new ArrayList<>(List.of(am));
                for (int i = 0; i < executors; i++) placed.add(executor);
                assertTrue(fits(placed, nodes, yarnVcores, yarnMib, 1), name + ": the application master " + am + " and " + executors
                        + " executors " + executor + " do not fit " + nodes + " nodes of " + yarnVcores + " vcores, " + yarnMib + " MiB, 1 GPU");
                if (c.containsKey("spark.executor.resource.gpu.amount")) {
                    assertEquals("1", c.get("spark.task.resource.gpu.amount"));
                    assertTrue(c.get("spark.executor.resource.gpu.discoveryScript").startsWith("/usr/lib/spark/"), "EMR's own discovery script");
                    // cluster mode would put the driver (application master) beside an executor that fills the node
                    assertFalse(cluster, name);
                }
                if (c.containsKey("spark.executor.memoryOverhead")) {
                    // ND4J's native memory held within the container (spark-submit/common.sh's rule, one definition)
                    String opts = c.get("spark.executor.extraJavaOptions");
                    assertNotNull(opts, name + ": executor options with the JavaCPP limits");
                    assertTrue(opts.endsWith(" " + javacppLimits(c.get("spark.executor.memory"), c.get("spark.executor.memoryOverhead"))), opts);
                    assertTrue(opts.contains("--add-modules=jdk.incubator.vector"), opts);
                }
                assertTrue(args.stream().anyMatch(a -> a.startsWith("s3://") && a.endsWith(".jar")), file);
            }
        }
    }

    /** A YARN container's vcores, memory (MiB, rounded up to YARN's minimum allocation) and GPUs. */
    private record Container(int vcores, long mib, int gpus) {
        Container {
            mib = (mib + YARN_MIN_ALLOCATION_MIB - 1) / YARN_MIN_ALLOCATION_MIB * YARN_MIN_ALLOCATION_MIB;
        }
    }

    private static boolean fits(List<Container> containers, int nodes, int vcores, long mib, int gpus) {
        int[] freeCores = new int[nodes];
        long[] freeMib = new long[nodes];
        int[] freeGpus = new int[nodes];
        java.util.Arrays.fill(freeCores, vcores);
        java.util.Arrays.fill(freeMib, mib);
        java.util.Arrays.fill(freeGpus, gpus);
        for (Container c : containers) {
            boolean placed = false;
            for (int n = 0; n < nodes && !placed; n++) {
                if (freeCores[n] >= c.vcores() && freeMib[n] >= c.mib() && freeGpus[n] >= c.gpus()) {
                    freeCores[n] -= c.vcores();
                    freeMib[n] -= c.mib();
                    freeGpus[n] -= c.gpus();
                    placed = true;
                }
            }
            if (!placed) return false;
        }
        return true;
    }

    /** Heap + overhead in MiB; Spark's default overhead: 10 % of the heap, at least 384 MiB. */
    private static long withOverhead(String heap, String overhead) {
        long h = mib(heap);
        return h + (overhead != null ? mib(overhead) : Math.max(384, h / 10));
    }

    /** The JavaCPP limits spark-submit/common.sh sets for an executor of this heap and overhead. */
    private String javacppLimits(String heap, String overhead) throws Exception {
        ProcessBuilder pb = new ProcessBuilder("bash", "-c", "source spark-submit/common.sh && javacpp_limits \"$0\" \"$1\"", heap, overhead)
                .redirectErrorStream(true);
        pb.environment().put("AVATAR_TRAIN_JAR", "s3://bucket/a.jar"); // common.sh wants a jar; any remote one will do
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        assertEquals(0, p.waitFor(), out);
        return out;
    }

    @Test
    void airflowEmrDagCarriesTheStepFileArgs() throws Exception {
        JsonNode step = JSON.readTree(DIR.resolve("emr/steps-make-metadata.json").toFile()).get(0);
        List<String> expected = new ArrayList<>();
        step.get("Args").forEach(a -> expected.add(a.asText()));
        assertEquals(expected, pythonLiteral(DIR.resolve("schedule/airflow_make_metadata.py"), "ARGS"));
        String dag = Files.readString(DIR.resolve("schedule/airflow_make_metadata.py"));
        assertTrue(dag.contains("\"ActionOnFailure\": \"" + step.get("ActionOnFailure").asText() + "\""));
    }

    @Test
    @SuppressWarnings("unchecked")
    void dataprocWorkflowAndDagAgreeAndRunJava17Everywhere() throws Exception {
        Map<String, Object> wf = new Yaml().load(Files.readString(DIR.resolve("schedule/dataproc-workflow.yaml")));
        assertTrue(wf.containsKey("jobs") && wf.containsKey("placement"));
        Map<String, Object> job = ((List<Map<String, Object>>) wf.get("jobs")).get(0);
        assertEquals("make-metadata", job.get("stepId"));
        Map<String, Object> spark = (Map<String, Object>) job.get("sparkJob");
        assertEquals("dev.avatartrain.cli.Main", spark.get("mainClass"));
        Map<String, String> props = new LinkedHashMap<>();
        ((Map<String, Object>) spark.get("properties")).forEach((k, v) -> props.put(k, String.valueOf(v)));
        assertEquals(props.get("spark.executor.cores"), props.get("spark.task.cpus"));
        String java = props.get("spark.executorEnv.JAVA_HOME");
        assertTrue(java != null && java.contains("17"), "executors on Java 17: " + props);
        assertEquals(java, props.get("spark.yarn.appMasterEnv.JAVA_HOME"), "driver on the same Java 17");
        assertEquals("cluster", props.get("spark.submit.deployMode"), "the driver in the application master's container, on that Java 17");
        assertTrue(((Map<String, Object>) wf.get("placement")).containsKey("clusterSelector"));

        Path dag = DIR.resolve("schedule/airflow_dataproc_make_metadata.py");
        assertEquals(spark.get("args"), pythonLiteral(dag, "ARGS"));
        assertEquals(props, pythonLiteral(dag, "PROPERTIES"));
        assertEquals(((List<String>) spark.get("jarFileUris")).get(0), pythonLiteral(dag, "JAR"));

        String submit = Files.readString(DIR.resolve("dataproc/submit.sh"));
        assertFalse(submit.contains("conda.env.config.uri="), "no empty conda property");
        for (String k : List.of("spark.executorEnv.JAVA_HOME", "spark.yarn.appMasterEnv.JAVA_HOME", "spark-env:JAVA_HOME", "cudnn-version=",
                "install_gpu_driver.sh", "spark.task.cpus=$CORES")) {
            assertTrue(submit.contains(k), "dataproc/submit.sh lacks " + k);
        }
    }

    @Test
    void crontabLocksAndSetsPathAndJavaHome() throws IOException {
        String cron = Files.readString(DIR.resolve("schedule/crontab.example"));
        assertTrue(cron.lines().anyMatch(l -> l.startsWith("PATH=")), cron);
        assertTrue(cron.lines().anyMatch(l -> l.startsWith("JAVA_HOME=")), cron);
        String job = cron.lines().filter(l -> l.matches("^[0-9*].*")).findFirst().orElseThrow();
        assertEquals(5, job.split("\\s+", 6).length - 1, "five time fields then the command: " + job);
        assertTrue(job.contains("flock -n "), job);
        assertTrue(job.contains("\\%"), "a % must be escaped in a crontab line");
    }

    /** The submit scripts, run with a spark-submit that prints its arguments, one per line. */
    private List<String> run(String script, Map<String, String> env, String... args) throws Exception {
        Ran r = exec(script, env, args);
        assertEquals(0, r.status(), script + " failed: " + r.lines());
        return r.lines();
    }

    private record Ran(int status, List<String> lines) {}

    /**
     * A submit script run with stand-ins that print their arguments one per line: spark-submit, and gcloud (which answers
     * {@code clusters describe} with $DESCRIBE_JSON, as gcloud's --format=json would).
     */
    private Ran exec(String script, Map<String, String> env, String... args) throws Exception {
        Path fake = tmp.resolve("spark-submit");
        Files.writeString(fake, "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done\n");
        fake.toFile().setExecutable(true);
        Path gcloud = tmp.resolve("gcloud");
        Files.writeString(gcloud, "#!/bin/sh\nif [ \"$2 $3\" = \"clusters describe\" ]; then printf '%s\\n' \"$DESCRIBE_JSON\"; exit 0; fi\n"
                + "for a in \"$@\"; do printf '%s\\n' \"$a\"; done\n");
        gcloud.toFile().setExecutable(true);
        List<String> cmd = new ArrayList<>(List.of("bash", DIR.resolve(script).toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("SPARK_SUBMIT", fake.toString());
        pb.environment().put("GCLOUD", gcloud.toString());
        for (String v : List.of("HF_TOKEN", "HF_ENDPOINT", "HF_HUB_OFFLINE", "HF_HOME", "HF_HUB_CACHE", "DEPLOY_MODE")) pb.environment().remove(v);
        pb.environment().putAll(env);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        return new Ran(p.waitFor(), out.lines().toList());
    }

    /** The arguments after the jar: what the command line of avatar-train became. */
    private static List<String> commandAfter(List<String> lines, String jar) {
        return lines.subList(lines.indexOf(jar) + 1, lines.size());
    }

    @Test
    void yarnShipsTheConfigOnlyInClusterModeAndRewritesBothConfigDirForms() throws Exception {
        String jar = "s3://bkt/a.jar";
        for (List<String> form : List.of(List.of("encode", "--config-dir", "conf"), List.of("encode", "--config-dir=conf"))) {
            String[] args = form.toArray(String[]::new);
            List<String> cluster = run("submit-yarn.sh", Map.of("AVATAR_TRAIN_JAR", jar, "CONFIG_DIR", "conf"), args);
            assertEquals("cluster", cluster.get(cluster.indexOf("--deploy-mode") + 1));
            assertEquals(form.size() == 3 ? List.of("encode", "--config-dir", ".") : List.of("encode", "--config-dir=."), commandAfter(cluster, jar));
            assertTrue(cluster.get(cluster.indexOf("--files") + 1).contains("conf/optimizer.yaml"), cluster.toString());

            List<String> client = run("submit-yarn.sh", Map.of("AVATAR_TRAIN_JAR", jar, "CONFIG_DIR", "conf", "DEPLOY_MODE", "client"), args);
            assertEquals("client", client.get(client.indexOf("--deploy-mode") + 1));
            assertEquals(form, commandAfter(client, jar), "a client-mode driver reads the local folder");
            assertFalse(client.contains("--files"), "nothing to ship: " + client);
        }
    }

    @Test
    void executorsNativeMemoryIsCappedWithinTheirContainer() throws Exception {
        for (String script : List.of("submit-yarn.sh", "submit-k8s.sh")) {
            Map<String, String> env = new LinkedHashMap<>(Map.of("AVATAR_TRAIN_JAR", "s3a://bkt/a.jar", "K8S_API", "https://k:6443", "IMAGE", "img",
                    "EXECUTOR_MEMORY", "20g", "EXECUTOR_MEMORY_OVERHEAD", "10240m"));
            Map<String, String> c = confs(run(script, env, "train"));
            String opts = c.get("spark.executor.extraJavaOptions");
            assertTrue(opts.contains("--add-modules=jdk.incubator.vector") && opts.contains("--add-opens=java.base/java.nio=ALL-UNNAMED"), opts);
            assertTrue(opts.endsWith(" -Dorg.bytedeco.javacpp.maxbytes=9216m -Dorg.bytedeco.javacpp.maxphysicalbytes=30208m"), script + ": " + opts);
            assertEquals(opts.substring(opts.indexOf(" -Dorg.bytedeco") + 1), javacppLimits("20g", "10240m"));

            env.put("EXECUTOR_MEMORY_OVERHEAD", "1g");
            Ran r = exec(script, env, "train");
            assertEquals(2, r.status(), r.lines().toString());
            assertTrue(String.join(" ", r.lines()).contains("EXECUTOR_MEMORY_OVERHEAD=1g leaves ND4J no native memory"), r.lines().toString());
        }
    }

    @Test
    void kubernetesTakesTheTokenFromASecretAndS3aSupportForTheUpload() throws Exception {
        Map<String, String> env = new LinkedHashMap<>(Map.of("AVATAR_TRAIN_JAR", tmp.resolve("a.jar").toString(), "K8S_API", "https://k:6443",
                "IMAGE", "img", "UPLOAD_PATH", "s3a://bkt/up", "HF_TOKEN", "hf_secret", "HF_ENDPOINT", "https://hub.example"));
        Files.writeString(tmp.resolve("a.jar"), "jar");
        Ran plain = exec("submit-k8s.sh", env, "train");
        assertEquals(2, plain.status(), plain.lines().toString());
        assertTrue(String.join(" ", plain.lines()).contains("HF_TOKEN_SECRET=hf-token:token"), plain.lines().toString());

        env.put("HF_TOKEN_SECRET", "hf-token:token");
        List<String> out = run("submit-k8s.sh", env, "train");
        Map<String, String> c = confs(out);
        assertEquals("hf-token:token", c.get("spark.kubernetes.driver.secretKeyRef.HF_TOKEN"));
        assertEquals("hf-token:token", c.get("spark.kubernetes.executor.secretKeyRef.HF_TOKEN"));
        assertTrue(out.stream().noneMatch(a -> a.contains("hf_secret")), "the token itself never on the command line: " + out);
        assertEquals("https://hub.example", c.get("spark.kubernetes.driverEnv.HF_ENDPOINT"));
        assertEquals("https://hub.example", c.get("spark.executorEnv.HF_ENDPOINT"));
        assertEquals("org.apache.hadoop:hadoop-aws:" + pomProperty("hadoop.version"), out.get(out.indexOf("--packages") + 1));
    }

    @Test
    void kubernetesImageRecipeHasTheVersionsTheJarWasBuiltFor() throws Exception {
        String docker = Files.readString(DIR.resolve("k8s/Dockerfile"));
        java.util.regex.Matcher from = java.util.regex.Pattern.compile("(?m)^FROM nvidia/cuda:(11)\\.\\d+\\.\\d+-cudnn8-runtime-ubuntu").matcher(docker);
        assertTrue(from.find(), "an NVIDIA CUDA 11 runtime image with cuDNN 8 (what nd4j-cuda-11.6 loads)");
        assertTrue(docker.contains("ARG SPARK_VERSION=" + pomProperty("spark.version") + "\n"), "Spark of the pom");
        assertTrue(docker.contains("ARG HADOOP_VERSION=" + pomProperty("hadoop.version") + "\n"), "hadoop-aws of the pom");
        assertTrue(docker.contains("ARG AWS_SDK_VERSION=" + pomProperty("aws.sdk.version") + "\n"), "the AWS SDK of the pom");
        assertTrue(docker.contains("openjdk-17-jre-headless"), "Java 17");
        assertTrue(docker.contains("hadoop-aws-${HADOOP_VERSION}.jar") && docker.contains("aws-java-sdk-bundle-${AWS_SDK_VERSION}.jar"));
        assertTrue(docker.contains("sha512sum -c"), "the Spark download is checked");
        String k8s = Files.readString(DIR.resolve("submit-k8s.sh"));
        String script = "/opt/spark/examples/src/main/scripts/getGpusResources.sh";
        assertTrue(k8s.contains(script) && docker.contains(script), "the discovery script the submit script names is in the image");
        assertTrue(k8s.contains("org.apache.hadoop:hadoop-aws:" + pomProperty("hadoop.version")), "the submitting Spark's hadoop-aws");
    }

    @Test
    void dataprocRunsTheDriverOnJava17OrRefusesAndCarriesMemoryFlagsAndHubSettings() throws Exception {
        Map<String, String> env = new LinkedHashMap<>(Map.of("AVATAR_TRAIN_JAR", "gs://bkt/a.jar", "DRIVER_MEMORY", "12g", "GPU", "1",
                "HF_ENDPOINT", "https://hub.example", "DESCRIBE_JSON", "{\"config\": {\"softwareConfig\": {\"properties\": {}}}}"));
        Ran java11 = exec("dataproc/submit.sh", env, "c1", "europe-west4", "train");
        assertEquals(2, java11.status(), java11.lines().toString());
        String said = String.join(" ", java11.lines());
        assertTrue(said.contains("spark-env:JAVA_HOME=/usr/lib/jvm/temurin-17-jdk-amd64") && said.contains("DEPLOY_MODE=cluster"), said);

        env.put("DESCRIBE_JSON", "{\"config\": {\"softwareConfig\": {\"properties\": {\"spark-env:JAVA_HOME\": \"/usr/lib/jvm/temurin-17-jdk-amd64\"}}}}");
        for (String mode : List.of("client", "cluster")) {
            env.put("DEPLOY_MODE", mode);
            List<String> out = run("dataproc/submit.sh", env, "c1", "europe-west4", "train");
            assertEquals(List.of("train"), out.subList(out.indexOf("--") + 1, out.size()));
            String props = out.stream().filter(a -> a.startsWith("--properties=^#^")).findFirst().orElseThrow().substring("--properties=^#^".length());
            Map<String, String> p = new LinkedHashMap<>();
            for (String kv : props.split("#")) p.put(kv.substring(0, kv.indexOf('=')), kv.substring(kv.indexOf('=') + 1));
            assertEquals(mode, p.get("spark.submit.deployMode"));
            assertEquals("12g", p.get("spark.driver.memory"));
            assertTrue(p.get("spark.driver.extraJavaOptions").contains("--add-modules=jdk.incubator.vector"), p.toString());
            assertTrue(p.get("spark.driver.extraJavaOptions").contains("-DHF_ENDPOINT=https://hub.example"), "the Hub client reads -D like the variable");
            assertEquals("https://hub.example", p.get("spark.executorEnv.HF_ENDPOINT"));
            assertEquals("https://hub.example", p.get("spark.yarn.appMasterEnv.HF_ENDPOINT"));
            assertTrue(p.get("spark.executor.extraJavaOptions").endsWith(" " + javacppLimits(p.get("spark.executor.memory"),
                    p.get("spark.executor.memoryOverhead"))), p.get("spark.executor.extraJavaOptions"));
            assertEquals("", p.get("spark.plugins"), "the init action's RAPIDS SQL plugin off for this job");
            assertEquals("false", p.get("spark.rapids.sql.enabled"));
            assertEquals("1", p.get("spark.task.resource.gpu.amount"));
            assertEquals(p.get("spark.executorEnv.JAVA_HOME"), p.get("spark.yarn.appMasterEnv.JAVA_HOME"));
        }
        String header = Files.readString(DIR.resolve("dataproc/submit.sh"));
        assertTrue(header.contains("cuda-version=11.8,cudnn-version=8.6.0.163"), "the init action's CUDA 11 + cuDNN 8 the backend loads");
    }

    private static String pomProperty(String name) throws IOException {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("<" + java.util.regex.Pattern.quote(name) + ">([^<]+)</")
                .matcher(Files.readString(Path.of("pom.xml")));
        assertTrue(m.find(), name);
        return m.group(1);
    }

    @Test
    void submitScriptsAcceptRemoteJarsAndSetWhatEachPlatformNeeds() throws Exception {
        for (String jar : List.of("s3://bkt/jars/a.jar", "gs://bkt/a.jar", "hdfs://nn:8020/a.jar", "local:///opt/a.jar", "s3a://bkt/a.jar")) {
            List<String> yarn = run("submit-yarn.sh", Map.of("AVATAR_TRAIN_JAR", jar, "GPU", "1", "CONFIG_DIR", "conf", "EXECUTOR_CORES", "6",
                    "HF_TOKEN", "hf_x"), "train", "--config-dir", "conf");
            assertTrue(yarn.contains(jar), jar + ": " + yarn);
            Map<String, String> c = confs(yarn);
            assertEquals("6", c.get("spark.task.cpus"));
            assertEquals("6", c.get("spark.executor.cores"));
            assertEquals("./get-gpus-resources.sh", c.get("spark.executor.resource.gpu.discoveryScript"));
            String files = yarn.get(yarn.indexOf("--files") + 1);
            assertTrue(files.contains("spark-submit/get-gpus-resources.sh") && files.contains("conf/model.yaml"), files);
            assertEquals(".", yarn.get(yarn.indexOf("train") + 2), "--config-dir points at the shipped copies");
            assertEquals("hf_x", c.get("spark.executorEnv.HF_TOKEN"));
            assertEquals("PASSIVE", c.get("spark.yarn.appMasterEnv.OMP_WAIT_POLICY"));
        }

        List<String> k8s = run("submit-k8s.sh", Map.of("AVATAR_TRAIN_JAR", "s3a://bkt/a.jar", "K8S_API", "https://k:6443", "IMAGE", "img",
                "UPLOAD_PATH", "s3a://bkt/up", "GPU", "1"), "encode");
        Map<String, String> c = confs(k8s);
        assertEquals("s3a://bkt/up", c.get("spark.kubernetes.file.upload.path"));
        assertEquals("PASSIVE", c.get("spark.kubernetes.driverEnv.OMP_WAIT_POLICY"));
        assertTrue(c.keySet().stream().noneMatch(k -> k.startsWith("spark.yarn.")), "no YARN settings on Kubernetes: " + c.keySet());
        assertTrue(c.get("spark.executor.resource.gpu.discoveryScript").startsWith("/opt/spark/"), "a path inside the image");
        assertEquals(c.get("spark.executor.cores"), c.get("spark.task.cpus"));
        for (String k : RETIRED) assertFalse(c.containsKey(k));

        List<String> local = run("submit-local.sh", Map.of("AVATAR_TRAIN_JAR", "https://example.org/a.jar"), "demo");
        assertTrue(confs(local).get("spark.driver.extraJavaOptions").contains("--add-opens=java.base/java.nio=ALL-UNNAMED"));

        ProcessBuilder missing = new ProcessBuilder("bash", DIR.resolve("submit-local.sh").toString()).redirectErrorStream(true);
        missing.environment().put("AVATAR_TRAIN_JAR", tmp.resolve("nope.jar").toString());
        Process p = missing.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(2, p.waitFor());
        assertTrue(out.contains("nope.jar") && out.contains("s3://") && out.contains("local://"), out);
    }

    private static Map<String, JsonNode> classifications(JsonNode array, String where) {
        assertTrue(array.isArray(), where + " must be a JSON array of classifications");
        Map<String, JsonNode> out = new LinkedHashMap<>();
        for (JsonNode c : array) {
            assertTrue(c.has("Classification"), where + ": entry without Classification");
            c.fieldNames().forEachRemaining(f -> assertTrue(Set.of("Classification", "Properties", "Configurations").contains(f), where + ": unknown field " + f));
            if (c.has("Properties")) c.get("Properties").fields().forEachRemaining(e -> assertTrue(e.getValue().isTextual(), where + ": " + e.getKey() + " must be a string"));
            out.put(c.get("Classification").asText(), c);
        }
        return out;
    }

    private static long yarnMib(JsonNode conf) {
        return yarnSite(conf).get("yarn.nodemanager.resource.memory-mb").asLong();
    }

    private static JsonNode yarnSite(JsonNode conf) {
        for (JsonNode c : conf) {
            if (c.get("Classification").asText().equals("yarn-site")) return c.get("Properties");
        }
        throw new AssertionError("no yarn-site");
    }

    private static Map<String, String> confs(List<String> args) {
        Map<String, String> out = new LinkedHashMap<>();
        for (int i = 0; i + 1 < args.size(); i++) {
            if (args.get(i).equals("--conf")) {
                String kv = args.get(i + 1);
                out.put(kv.substring(0, kv.indexOf('=')), kv.substring(kv.indexOf('=') + 1));
            }
        }
        return out;
    }

    private static long mib(String size) {
        String s = size.toLowerCase();
        long n = Long.parseLong(s.replaceAll("[a-z]+$", ""));
        return s.endsWith("g") ? n * 1024 : s.endsWith("m") ? n : n / (1024 * 1024);
    }

    /** The literal value assigned to {@code name} in a Python file, read with Python's own parser (ast.literal_eval). */
    private static Object pythonLiteral(Path file, String name) throws Exception {
        String code = "import ast, json, sys\n"
                + "tree = ast.parse(open(sys.argv[1]).read())\n"
                + "v = [n.value for n in tree.body if isinstance(n, ast.Assign) and any(getattr(t, 'id', '') == sys.argv[2] for t in n.targets)]\n"
                + "print(json.dumps(ast.literal_eval(v[0])))\n";
        Process p = new ProcessBuilder("python3", "-c", code, file.toString(), name).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), "python3 could not read " + name + " from " + file + ": " + out);
        return JSON.readValue(out, Object.class);
    }
}
