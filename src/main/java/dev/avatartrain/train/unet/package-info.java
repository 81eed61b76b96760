/** The lip-sync UNet as a training task over the latent cache, and its validation (loss, mouth PSNR, grids). */
package dev.avatartrain.train.unet;
