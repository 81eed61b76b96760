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
    void emrStepsAreValidStepsWhoseExecutorsFitTheNodes() throws IOException {
        long yarnMib = yarnMib(JSON.readTree(DIR.resolve("emr/configurations.json").toFile()));
        for (String file : List.of("emr/steps-train.json", "emr/steps-make-metadata.json")) {
            JsonNode steps = JSON.readTree(DIR.resolve(file).toFile());
            assertTrue(steps.isArray() && steps.size() > 0, file);
            for (JsonNode step : steps) {
                for (String k : List.of("Name", "ActionOnFailure", "Type", "Jar", "Args")) assertTrue(step.has(k), file + ": step without " + k);
                assertTrue(STEP_ACTIONS.contains(step.get("ActionOnFailure").asText()), file);
                assertEquals("CUSTOM_JAR", step.get("Type").asText());
                assertEquals("command-runner.jar", step.get("Jar").asText());
                List<String> args = new ArrayList<>();
                step.get("Args").forEach(a -> args.add(a.asText()));
                assertEquals("spark-submit", args.get(0));
                Map<String, String> c = confs(args);
                assertEquals(c.get("spark.executor.cores"), c.get("spark.task.cpus"), file + ": one task per executor with all its cores");
                assertNotNull(c.get("spark.executor.memory"), file);
                long need = mib(c.get("spark.executor.memory")) + mib(c.getOrDefault("spark.executor.memoryOverhead", "384m"));
                assertTrue(need <= yarnMib, file + ": executor needs " + need + " MiB, YARN offers " + yarnMib);
                if (c.containsKey("spark.executor.resource.gpu.amount")) {
                    assertEquals("1", c.get("spark.task.resource.gpu.amount"));
                    assertTrue(c.get("spark.executor.resource.gpu.discoveryScript").startsWith("/usr/lib/spark/"), "EMR's own discovery script");
                    // cluster mode would put the driver (application master) beside an executor that fills the node
                    assertEquals("client", args.get(args.indexOf("--deploy-mode") + 1), file);
                }
                assertTrue(args.stream().anyMatch(a -> a.startsWith("s3://") && a.endsWith(".jar")), file);
            }
        }
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
        Path fake = tmp.resolve("spark-submit");
        Files.writeString(fake, "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done\n");
        fake.toFile().setExecutable(true);
        List<String> cmd = new ArrayList<>(List.of("bash", DIR.resolve(script).toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("SPARK_SUBMIT", fake.toString());
        pb.environment().putAll(env);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), script + " failed: " + out);
        return out.lines().toList();
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
        for (JsonNode c : conf) {
            if (c.get("Classification").asText().equals("yarn-site")) return c.get("Properties").get("yarn.nodemanager.resource.memory-mb").asLong();
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
