/**
 * The lip-sync UNet: diffusers' {@code UNet2DConditionModel} (v0.27.2) as a SameDiff graph with diffusers'
 * parameter names, built from a diffusers config JSON ({@link dev.avatartrain.models.unet.UNetConfig}).
 */
package dev.avatartrain.models.unet;
