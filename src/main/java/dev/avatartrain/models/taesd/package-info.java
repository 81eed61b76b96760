/** The TAESD family of tiny autoencoders (taesd, taesdxl, taesd3, taef1, taef2), defined once on the layer vocabulary, images in [0, 1]. */
package dev.avatartrain.models.taesd;
