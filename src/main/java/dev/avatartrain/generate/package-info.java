/** {@code generate}: lip-synced frames predicted for a clip from its audio, with mouth-region PSNR/SSIM against the real frames. */
package dev.avatartrain.generate;
