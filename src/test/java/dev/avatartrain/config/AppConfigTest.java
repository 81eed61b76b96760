package dev.avatartrain.config;

import dev.avatartrain.errors.BadInputException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class AppConfigTest {
    @TempDir
    Path dir;

    private Path copySeedFiles() throws IOException {
        for (String s : ConfigSchema.SECTIONS) {
            Files.copy(Path.of("configuration/global", s + ".yaml"), dir.resolve(s + ".yaml"));
        }
        return dir;
    }

    private BadInputException failure(List<String> overrides) {
        return assertThrows(BadInputException.class, () -> AppConfig.load(dir, overrides));
    }

    @Test
    void seedFilesLoadWithTheSeedDefaults() {
        AppConfig c = AppConfig.load(null, List.of());
        assertEquals("https://digital-human-llm.s3.ap-southeast-2.amazonaws.com/dev/train-data/", c.data().s3DataBaseUrl());
        assertEquals("aligned-frames", c.data().imageFolderName());
        assertEquals("audio", c.data().audioFolderName());
        assertEquals(256, c.data().imageSize());
        TrainConfig t = c.train();
        assertEquals(512, t.gradientAccumulationSteps());
        assertEquals("fp16", t.mixedPrecision());
        assertTrue(t.wandbEnabled());
        assertTrue(t.gradientCheckpointing());
        assertEquals(5000, t.maxTrainSteps());
        assertEquals(100, t.validationSteps());
        assertEquals(1000, t.checkpointsTotalLimit());
        assertEquals(12, t.trainBatchSize());
        assertEquals(2, t.audioLengthLeft());
        assertEquals(2, t.audioLengthRight());
        assertEquals("configuration/unet/config.json", c.model().unetConfigFile()); // the seed's model.yaml as written
        assertEquals("madebyollin/taesd", c.model().vaePretrainedModelNameOrPath());
        assertNull(c.model().resumeFromCheckpoint());
        OptimizerConfig o = c.optimizer();
        assertEquals(5e-5, o.learningRate());
        assertFalse(o.scaleLr());
        assertEquals("cosine", o.lrScheduler());
        assertEquals(0, o.lrWarmupSteps());
        assertEquals(0.9, o.adamBeta1());
        assertEquals(0.999, o.adamBeta2());
        assertEquals(1e-2, o.adamWeightDecay());
        assertEquals(1e-8, o.adamEpsilon());
        assertEquals(1.0, o.maxGradNorm());
        // Keys added after the seed keep their defaults when the seed files don't mention them.
        assertEquals(42L, t.seed());
        assertEquals(1, t.averagingFrequency());
    }

    @Test
    void filesEqualTheSchemaDefaults() {
        // The seed files and the schema's defaults must not drift apart.
        assertEquals(AppConfig.defaults().toYaml(), AppConfig.load(null, List.of()).toYaml());
    }

    /** --set values are YAML ("3" is a number); a command-line option's value is taken as given ("-" is not a list). */
    @Test
    void optionValuesAreLiteralAndSetValuesAreYaml() {
        java.util.Map<String, Object> v = AppConfig.loadSection(ConfigSchema.ADAPTER, null, ConfigSchema.ADAPTER_FILE,
                List.of("adapter.epochs=3", "adapter.output_dir='out: a'"), java.util.Map.of("manifest", "-", "lr", 0.5));
        assertEquals("-", v.get("manifest"));
        assertEquals(3, v.get("epochs"));
        assertEquals("out: a", v.get("output_dir"));
        assertEquals(0.5, v.get("lr"));
        BadInputException e = assertThrows(BadInputException.class, () -> AppConfig.loadSection(ConfigSchema.ADAPTER, null,
                ConfigSchema.ADAPTER_FILE, List.of(), java.util.Map.of("batch_size", "two")));
        assertTrue(e.getMessage().contains("--batch-size") && e.getMessage().contains("batch_size"), e.getMessage());
    }

    @Test
    void overridesReplaceOneValue() throws IOException {
        copySeedFiles();
        AppConfig c = AppConfig.load(dir, List.of("train.train_batch_size=4", "optimizer.learning_rate=1e-3",
                "model.resume_from_checkpoint=latest", "train.wandb_enabled=false"));
        assertEquals(4, c.train().trainBatchSize());
        assertEquals(1e-3, c.optimizer().learningRate());
        assertEquals("latest", c.model().resumeFromCheckpoint());
        assertFalse(c.train().wandbEnabled());
        assertEquals(512, c.train().gradientAccumulationSteps());
    }

    @Test
    void unknownKeySuggestsTheNearestOne() throws IOException {
        copySeedFiles();
        Files.writeString(dir.resolve("train.yaml"), "train_bach_size: 4\n");
        String msg = failure(List.of()).getMessage();
        assertTrue(msg.contains(dir.resolve("train.yaml").toString()), msg);
        assertTrue(msg.contains("unknown key 'train_bach_size'"), msg);
        assertTrue(msg.contains("did you mean 'train_batch_size'"), msg);
    }

    @Test
    void wrongTypeNamesFileKeyAndWhatIsAllowed() throws IOException {
        copySeedFiles();
        Files.writeString(dir.resolve("train.yaml"), "max_train_steps: lots\n");
        String msg = failure(List.of()).getMessage();
        assertTrue(msg.contains("train.yaml"), msg);
        assertTrue(msg.contains("'max_train_steps' must be an integer >= 1, found 'lots' (a string)"), msg);
    }

    @Test
    void outOfRangeAndBadChoicesAreReportedTogether() throws IOException {
        copySeedFiles();
        Files.writeString(dir.resolve("optimizer.yaml"), "adam_beta1: 1.5\nlr_scheduler: cosin\n");
        String msg = failure(List.of()).getMessage();
        assertTrue(msg.contains("'adam_beta1' is 1.5; it must be a number from 0.0 to 1.0"), msg);
        assertTrue(msg.contains("'lr_scheduler' is 'cosin'; it must be one of constant, constant_with_warmup"), msg);
    }

    @Test
    void imageSizeMustBeAMultipleOfEight() throws IOException {
        copySeedFiles();
        String msg = failure(List.of("data.IMAGE_SIZE=100")).getMessage();
        assertTrue(msg.contains("'IMAGE_SIZE' is 100; it must be a multiple of 8"), msg);
        // the value came from the command line: the --set is blamed, not data.yaml
        assertTrue(msg.contains("--set data.IMAGE_SIZE=100: key 'IMAGE_SIZE'") && !msg.contains("data.yaml"), msg);
    }

    @Test
    void missingFileInAnExplicitDirectoryIsAnError() throws IOException {
        copySeedFiles();
        Files.delete(dir.resolve("model.yaml"));
        String msg = failure(List.of()).getMessage();
        assertTrue(msg.contains(dir.resolve("model.yaml") + ": configuration file is missing"), msg);
    }

    @Test
    void unreadableYamlGivesItsLine() throws IOException {
        copySeedFiles();
        Files.writeString(dir.resolve("data.yaml"), "output_dir: out\nIMAGE_SIZE: [256\nother: 1\n");
        String msg = failure(List.of()).getMessage();
        assertTrue(msg.contains("data.yaml: unreadable YAML at line"), msg);
    }

    @Test
    void aDuplicatedKeyAndAnEmptyFileAreErrorsNamingTheFile() throws IOException {
        copySeedFiles();
        Files.writeString(dir.resolve("train.yaml"), Files.readString(dir.resolve("train.yaml")) + "\ntrain_batch_size: 64\n");
        String msg = failure(List.of()).getMessage();
        assertTrue(msg.contains("train.yaml: unreadable YAML at line") && msg.contains("found duplicate key train_batch_size"), msg);
        Files.writeString(dir.resolve("train.yaml"), "# nothing here yet\n");
        msg = failure(List.of()).getMessage();
        assertTrue(msg.contains("train.yaml: the file is empty (no keys); give its keys, or delete it to use the defaults."), msg);
    }

    @Test
    void nonMappingFileIsAnError() throws IOException {
        copySeedFiles();
        Files.writeString(dir.resolve("data.yaml"), "- a\n- b\n");
        assertTrue(failure(List.of()).getMessage().contains("expected a mapping of keys to values, found a list"));
    }

    @Test
    void badOverridesAreErrors() throws IOException {
        copySeedFiles();
        assertTrue(failure(List.of("trian.seed=1")).getMessage().contains("unknown section 'trian' (did you mean 'train'?)"));
        assertTrue(failure(List.of("train.sed=1")).getMessage().contains("unknown key 'sed' in train.yaml (did you mean 'seed'?)"));
        assertTrue(failure(List.of("train_batch_size=4")).getMessage().contains("expected section.key=value"));
        assertTrue(failure(List.of("train.train_batch_size=0")).getMessage().contains("'train_batch_size' is 0"));
    }

    @Test
    void effectiveConfigIsSavedAndReadsBackTheSame() throws IOException {
        AppConfig c = AppConfig.load(null, List.of("train.seed=7", "data.output_dir=elsewhere"));
        Path saved = c.save(dir.resolve("run"));
        assertTrue(Files.readString(saved).startsWith("# Effective configuration (sha256 " + c.hash()));
        // The saved file is one YAML document with a mapping per file: split it back into the four files.
        var yaml = new org.yaml.snakeyaml.Yaml();
        java.util.Map<String, Object> all = yaml.load(Files.readString(saved));
        Path reload = dir.resolve("reload");
        Files.createDirectories(reload);
        for (String s : ConfigSchema.SECTIONS) Files.writeString(reload.resolve(s + ".yaml"), yaml.dump(all.get(s)));
        AppConfig back = AppConfig.load(reload, List.of());
        assertEquals(c.toYaml(), back.toYaml());
        assertEquals(c.hash(), back.hash());
        assertNotEquals(AppConfig.defaults().hash(), c.hash());
    }

    @Test
    void everyKeyHasADescription() {
        for (ConfigKey k : ConfigSchema.keys()) assertFalse(k.description().isBlank(), k.qualifiedName());
    }
}
