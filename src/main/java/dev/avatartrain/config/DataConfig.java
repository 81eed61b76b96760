package dev.avatartrain.config;

import java.io.Serializable;
import java.util.Map;

/** {@code data.yaml}: where the frame tree, metadata and outputs are. */
public record DataConfig(String s3DataBaseUrl, String localDataBaseUrl, String metadataUrl, String outputDir,
                         String imageFolderName, String audioFolderName, int imageSize) implements Serializable {

    static DataConfig from(Map<String, Object> v) {
        return new DataConfig((String) v.get("s3_data_base_url"), (String) v.get("local_data_base_url"),
                (String) v.get("metadata_url"), (String) v.get("output_dir"), (String) v.get("image_folder_name"),
                (String) v.get("audio_folder_name"), (Integer) v.get("IMAGE_SIZE"));
    }
}
