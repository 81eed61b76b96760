package dev.avatartrain.models.adapter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.avatartrain.errors.BadInputException;
import org.junit.jupiter.api.Test;

class AudioProjConfigTest {
    @Test
    void defaultsAreInfiniteTalks() {
        AudioProjConfig d = AudioProjConfig.defaults();
        assertEquals(new AudioProjConfig(5, 4, 12, 768, 512, 32, 768, true), d);
        assertEquals(8, d.windowVf());
        assertEquals(46080, d.inputDim());
        assertEquals(73728, d.inputDimVf());
        assertEquals(74_214_400L, d.parameterCount()); // 74.2 M, DESIGN.md §4
        assertEquals(d, AudioProjConfig.parse("{}", "x"));
        assertEquals(d, AudioProjConfig.parse(d.toJson(), "x"));
    }

    @Test
    void parsesAndRejects() {
        AudioProjConfig c = AudioProjConfig.parse("{\"audio_window\": 3, \"vae_scale\": 2, \"norm_output_audio\": false,"
                + " \"_comment\": \"ignored\"}", "a.json");
        assertEquals(new AudioProjConfig(3, 2, 12, 768, 512, 32, 768, false), c);
        assertEquals(c.withWindow(7, 3), new AudioProjConfig(7, 3, 12, 768, 512, 32, 768, false));
        String[][] bad = {
            {"{\"audio_window\": 4}", "a.json: audio_window is 4; it must be a positive odd number"},
            // types and ranges come from ConfigSchema's adapter section, as in train_adapter.yaml
            {"{\"vae_scale\": 1}", "a.json: key 'vae_scale' is 1; it must be an integer >= 2"},
            {"{\"blocks\": 0}", "a.json: key 'blocks' is 0; it must be an integer >= 1"},
            {"{\"channels\": 7.5}", "a.json: key 'channels' must be an integer >= 1, found 7.5"},
            {"{\"norm_output_audio\": 1}", "a.json: key 'norm_output_audio' must be true or false, found 1"},
            {"{\"seq_len\": 5}", "a.json: unknown key \"seq_len\""},
            {"[1]", "a.json: expected a JSON object"},
            {"{", "a.json: not valid JSON"},
        };
        for (String[] b : bad) {
            BadInputException e = assertThrows(BadInputException.class, () -> AudioProjConfig.parse(b[0], "a.json"));
            assertTrue(e.getMessage().startsWith(b[1]), b[0] + " -> " + e.getMessage());
        }
    }
}
