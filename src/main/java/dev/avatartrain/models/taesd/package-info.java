/** The TAESD family of tiny autoencoders (taesd, taesdxl, taesd3, taef1, taef2) as SameDiff graphs, images in [0, 1]. */
package dev.avatartrain.models.taesd;
